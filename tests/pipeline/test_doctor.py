"""`doctor` against the sandbox fakes: good and bad credentials for Cloudflare and each cloud, feeds, exit codes.

Every cloud runs its real SDK against its fake on 127.0.0.1 (`start_demo`); bad credentials are made the way users
make them: a wrong secret, a key the service does not know, a signature that does not match.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.sandbox.cloudflare import FakeCloudflare
from agent.sandbox.demo_run import CLOUD_MODULES
from tests.pipeline.conftest import writes

DATA = Path(__file__).parent.parent / "data"


def doctor(run_cli: Any, config: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli("doctor", "--config", str(config), "-o", "json", *args)
    return result.exit_code, json.loads(result.stdout), result.stderr


def by_name(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in document["checks"]}


def test_all_good_exits_0_and_writes_nothing(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """Token, zone, DNS, mappings and supported regions are read; the write permission is 'unchecked'."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    code, doc, _ = doctor(run_cli, write_config([("192.0.2.1", "aws", "us-east-1")]))
    assert code == 0, doc
    checks = by_name(doc)
    assert checks["cloudflare credentials"]["status"] == "ok" and "active" in checks["cloudflare credentials"]["detail"]
    assert checks["zone example.com: dns records"]["status"] == "ok"
    assert "1 proxied A/AAAA" in checks["zone example.com: dns records"]["detail"]
    assert checks["zone example.com: mappings"]["status"] == "ok"
    assert "Tiered Cache is on" in checks["zone example.com: supported regions"]["detail"]
    write = checks["zone example.com: write mappings"]
    assert write["status"] == "unchecked" and write["detail"] == "cannot be checked without writing"
    assert "Zone Settings: Edit" in write["hint"]
    assert any(name.startswith("static") and c["status"] == "ok" for name, c in checks.items())
    assert writes(cf) == [] and doc["ok"] is True


def test_bad_token_exit_1_with_hint(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """An unknown token is a problem with the way to check it; the zone checks are not attempted."""
    result = run_cli("doctor", "--config", str(write_config([])), "-o", "json",
                     env={"CLOUDFLARE_API_TOKEN": "wrong-token-0123456789"})  # fmt: skip
    assert result.exit_code == 1
    checks = by_name(json.loads(result.stdout))
    check = checks["cloudflare credentials"]
    assert check["status"] == "problem" and not any(name.startswith("zone ") for name in checks)
    assert "tokens/verify" in check["hint"] and "wrong-token" not in result.stdout


def test_missing_dns_permission_names_the_group(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """403/10000 on DNS records: the hint names Zone → DNS: Read; Tiered Cache off is its own problem."""
    cf.fail_next(403, code=10000, match="/dns_records")
    cf.set_tiered_cache(zone, False)
    code, doc, _ = doctor(run_cli, write_config([]))
    assert code == 1
    checks = by_name(doc)
    assert checks["zone example.com: dns records"]["status"] == "problem"
    assert "DNS: Read" in checks["zone example.com: dns records"]["hint"]
    assert checks["zone example.com: supported regions"]["status"] == "problem"
    assert "Tiered Cache" in checks["zone example.com: supported regions"]["hint"]
    assert checks["zone example.com: mappings"]["status"] == "ok"


def test_wrong_zone_id_hint_7003(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """A zone id the token cannot see: 7003, and the hint says to compare the id and the token's zone resources."""
    code, doc, _ = doctor(run_cli, write_config([], zones=[{"id": "0" * 31 + "1"}]))
    assert code == 1
    dns = by_name(doc)[f"zone {'0' * 31}1: dns records"]
    assert dns["status"] == "problem" and "zone id is wrong" in dns["hint"]


def test_unreadable_config_exit_2(tmp_path: Path, run_cli) -> None:
    """A config that does not load is exit 2, said once."""
    bad = tmp_path / "c.yaml"
    bad.write_text("policy: sometimes\n")
    result = run_cli("doctor", "--config", str(bad))
    assert result.exit_code == 2 and result.stderr.count("policy") == 1


@contextlib.contextmanager
def cloud(source: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    pytest.importorskip(
        {"aws": "boto3", "gcp": "google.cloud.compute", "azure": "azure.identity", "oci": "oci"}[source]
    )
    module = importlib.import_module(CLOUD_MODULES[source])
    with contextlib.ExitStack() as stack:
        demo = module.start_demo(stack)
        for key, value in demo.env.items():
            monkeypatch.setenv(key, value)
        yield demo


def _break(source: str, demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the credentials wrong the way it happens in real life."""
    if source == "aws":
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key-0000000000000000000000")
    elif source == "azure":
        monkeypatch.setenv(demo.config["client_secret_env"], "not-the-client-secret")
    elif source == "gcp":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        path = Path(demo.config["credentials_file"])
        key = json.loads(path.read_text())
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key["private_key"] = other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        path.write_text(json.dumps(key))
    elif source == "oci":
        path = Path(demo.config["config_file"])
        text = re.sub(r"fingerprint\s*=\s*\S+", "fingerprint=" + ":".join(["00"] * 16), path.read_text())
        path.write_text(text)


@pytest.mark.parametrize("source", sorted(CLOUD_MODULES))
@pytest.mark.parametrize("good", [True, False], ids=["good", "bad"])
def test_cloud_credentials(
    source: str, good: bool, cf: FakeCloudflare, zone: str, write_config, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each cloud's one cheap read: ok with good credentials; a problem with the vendor code and a hint otherwise."""
    with cloud(source, monkeypatch) as demo:
        if not good:
            _break(source, demo, monkeypatch)
        code, doc, _ = doctor(run_cli, write_config([], inventory={source: demo.config}))
    mine = [c for c in doc["checks"] if c["check"].startswith(source)]
    assert mine, doc
    if good:
        assert code == 0, mine
        assert all(c["status"] == "ok" for c in mine)
    else:
        assert code == 1
        assert any(c["status"] == "problem" for c in mine), mine
        problem = next(c for c in mine if c["status"] == "problem")
        assert problem["hint"], problem  # which credential to check, and how
        secret = demo.env.get(demo.config.get("client_secret_env", ""), "") if source == "azure" else ""
        assert not secret or secret not in json.dumps(doc)


def test_feeds_cached_and_unreachable(cf: FakeCloudflare, zone: str, write_config, run_cli, tmp_path: Path) -> None:
    """A feed in feeds_dir is ok with its age; an unreachable one is a problem naming feeds fetch and feeds_dir."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "ip-ranges.json").write_bytes(gzip.decompress((DATA / "aws-ip-ranges.json.gz").read_bytes()))
    ranges = {"feeds": ["aws"], "feeds_dir": str(feeds)}
    code, doc, _ = doctor(run_cli, write_config([], inventory={"ranges": ranges}))
    assert code == 0, doc
    feed = by_name(doc)["feed aws"]
    assert feed["status"] == "ok" and "old" in feed["detail"] and "prefixes" in feed["detail"]
    offline = {"feeds": ["gcp"], "offline": True, "cache_dir": str(tmp_path / "empty")}
    code, doc, _ = doctor(run_cli, write_config([], inventory={"ranges": offline}))
    assert code == 1
    feed = by_name(doc)["feed gcp"]
    assert feed["status"] == "problem" and "feeds fetch --dir" in feed["hint"] and "feeds_dir" in feed["hint"]


def test_table_output_one_line_per_check(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    """The default table has a header and a closing count."""
    result = run_cli("doctor", "--config", str(write_config([])))
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "DETAIL", "HINT"]
    assert lines[-1].endswith("0 problems: ready to run") and result.exit_code == 0
    assert yaml.safe_load(run_cli("doctor", "--config", str(write_config([])), "-o", "yaml").stdout)["ok"] is True


def test_global_key_shows_the_user(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an email + global API key, the credential check reads the user (the verify endpoint knows only tokens)."""
    with FakeCloudflare(tokens=(), global_keys={"ops@example.com": "k" * 37}) as fake:
        fake.add_zone("example.com")
        config = tmp_path / "c.yaml"
        settings = {
            "cloudflare": {"base_url": fake.base_url, "max_retries": 0},
            "zones": [{"name": "example.com"}],
            "inventory": {"static": {"path": "-"}},
        }
        config.write_text(yaml.safe_dump(settings))
        monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
        monkeypatch.setenv("CLOUDFLARE_EMAIL", "ops@example.com")
        monkeypatch.setenv("CLOUDFLARE_API_KEY", "k" * 37)
        result = run_cli("doctor", "--config", str(config), "-o", "json")
    check = by_name(json.loads(result.stdout))["cloudflare credentials"]
    assert check["status"] == "ok" and check["detail"] == "global API key of ops@example.com", check
