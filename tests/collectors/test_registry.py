"""One registry of inventory sources (`agent.collectors.base.SOURCES`): config validation, collector loading, the
missing-extra error and `init` all read it; the feed configuration lives with the feeds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.collectors.base import SOURCES, Collector
from agent.config import Config
from agent.init_cmd import Finding, render_config

ROOT = Path(__file__).parents[2]


def test_config_has_one_section_per_registered_source() -> None:
    fields = Config.model_fields["inventory"].annotation.model_fields  # type: ignore[union-attr]
    assert list(fields) == list(SOURCES)
    for name, source in SOURCES.items():
        assert fields[name].annotation == source.config_class() | None


def test_every_registered_collector_is_a_collector_for_its_name() -> None:
    for name, source in SOURCES.items():
        cls = source.collector_class()
        assert issubclass(cls, Collector) and cls.source == name


def test_config_models_import_no_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        from agent.collectors.base import SOURCES
        import agent.config
        for source in SOURCES.values():
            source.config_class()
        sdks = ("botocore", "oci", "google.cloud.compute_v1", "azure.identity", "httpx")
        heavy = [m for m in sdks if m in sys.modules]
        print(heavy)
        sys.exit(1 if heavy else 0)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("source", ["aws", "oci"])
def test_a_missing_sdk_names_the_extra_from_the_registry(tmp_path: Path, source: str) -> None:
    """With the SDK made unimportable (as when the extra is not installed), `plan` exits 2 with the pip command."""
    sdk = {"aws": "botocore", "oci": "oci"}[source]
    config = tmp_path / "config.yaml"
    config.write_text(
        "cloudflare: {base_url: 'http://127.0.0.1:9/client/v4', api_token: t0k3n-for-this-test}\n"
        f"zones: [{{name: example.com}}]\ninventory: {{{source}: {{}}}}\n"
    )
    code = textwrap.dedent(
        f"""
        import sys
        class Missing:
            def find_spec(self, name, path=None, target=None):
                if name == {sdk!r} or name.startswith({sdk!r} + "."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Missing())
        from agent.cli import main
        main(["plan", "--config", {str(config)!r}])
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"inventory.{source} needs the '{source}' extra" in output
    assert SOURCES[source].install_hint in output and "Traceback" not in output


def test_init_names_each_found_clouds_extra_from_the_registry() -> None:
    text = render_config([Finding("aws", ("~/.aws/config",), ("default",)), Finding("oci", ("~/.oci/config",))])
    assert f"# AWS: found ~/.aws/config; needs {SOURCES['aws'].install_hint}" in text
    assert f"# OCI: found ~/.oci/config; needs {SOURCES['oci'].install_hint}" in text


def test_feeds_and_the_ranges_collector_do_not_import_each_other() -> None:
    """The feeds own their configuration; only the `ranges` collector imports the feeds, never the reverse."""
    for path in (ROOT / "agent" / "feeds").glob("*.py"):
        assert "agent.collectors" not in path.read_text(), path.name
    code = (
        "import sys, agent.feeds.load, agent.feeds.cli, agent.feeds.azure_discovery, agent.feeds.config; "
        "sys.exit(1 if any(m.startswith('agent.collectors') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
