"""`start_demo`: the fake the `demo` command runs, collected by the real collector, gives exactly the expected map."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import pytest
from azure_testkit import run_all

from agent.collectors.azure.collector import AzureCollector
from agent.ip import canonical_ip
from agent.models import GLOBAL_REGION
from agent.sandbox.azure import start_demo


def test_demo_collects_exactly_the_expected_regions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regional addresses map to their regions; the global-tier address is seen but never given a region."""
    with contextlib.ExitStack() as stack:
        demo = start_demo(stack)
        for key, value in demo.env.items():
            monkeypatch.setenv(key, value)
        collector = AzureCollector.from_config(demo.config)
        run = run_all(collector)
        collector.close()

    assert demo.source == "azure" and run.errors == {}
    regional = {r.ip: r.region for r in run.records if r.region != GLOBAL_REGION}
    assert regional == demo.expected_regions
    assert len(set(demo.expected_regions.values())) >= 3
    unmapped = set(demo.origin_ips) - set(demo.expected_regions)
    assert unmapped and all(r.region == GLOBAL_REGION for r in run.records if r.ip in unmapped)
    assert {r.ip for r in run.records} == set(demo.origin_ips)
    assert all(canonical_ip(ip) == ip for ip in demo.origin_ips)
    assert not any(v in str(demo.config) for v in demo.env.values())  # the secret travels by env only


def test_demo_needs_no_dev_dependencies() -> None:
    """With trustme and moto unimportable, the demo still starts (cryptography CA) and serves the collector."""
    code = textwrap.dedent(
        """
        import contextlib, os, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("trustme", "moto", "pytest"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from agent.sandbox.azure import start_demo
        from agent.collectors.azure.collector import AzureCollector
        with contextlib.ExitStack() as stack:
            demo = start_demo(stack)
            os.environ.update(demo.env)
            c = AzureCollector.from_config(demo.config)
            todo, found = list(c.scopes()), {}
            while todo:
                for item in c.collect(todo.pop()):
                    if hasattr(item, "leaf"):
                        todo.append(item)
                    else:
                        found[item.ip] = item.region
            assert all(found[ip] == region for ip, region in demo.expected_regions.items()), found
            print(len(found))
        """
    )
    env = {"PATH": "/usr/bin:/bin", "AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9", "NO_PROXY": "*"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == 5
