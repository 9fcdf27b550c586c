"""Pushgateway push: real prometheus-client over real HTTP to a recording server on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.metrics import push_run_metrics


@dataclass
class Push:
    method: str
    path: str
    content_type: str
    body: str
    authorization: str | None = None

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        out = {}
        for family in text_string_to_metric_families(self.body):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out


@dataclass
class Gateway:
    url: str
    pushes: list[Push] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A tiny Pushgateway stand-in: records each request and answers like the real one (200 or a set status)."""
    gw = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            gw.pushes.append(
                Push(self.command, self.path, self.headers.get("Content-Type", ""), body, self.headers["Authorization"])
            )
            self.send_response(gw.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = _record

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield gw
    server.shutdown()
    server.server_close()


def summary(exit_code: int = 0, **extra: object) -> dict:
    base = {
        "version": 1,
        "started_at": "2026-07-29T10:00:00Z",
        "finished_at": "2026-07-29T10:00:42Z",
        "duration_s": 42.5,
        "dry_run": False,
        "policy": "create-only",
        "discovery": {
            "complete": exit_code == 0,
            "scopes": 4,
            "sources": {"aws": {"addresses": 12, "scope_errors": 1}, "ranges": {"addresses": 900, "scope_errors": 0}},
            "vendors": {"aws": 3, "gcp": 1},
            "scope_errors": [{"scope": "aws:123456789012/eu-west-1", "error": "CollectorError"}],
            "skipped_scopes": [],
        },
        "zones": [{"zone": "example.com"}, {"zone": "example.org"}],
        "totals": {
            "origin_ips": 6,
            "matched": 4,
            "created": 2,
            "updated": 1,
            "deleted": 0,
            "unchanged": 1,
            "unsupported": 1,
            "ambiguous": 0,
            "unmatched": 1,
            "failed": 0,
            "conflicts": 0,
            "global": 0,
        },
        "skipped": ["zone example.net"],
        "exit_code": exit_code,
    }
    base.update(extra)
    return base


def test_successful_run_is_pushed_with_post_and_all_gauges(gateway):
    """pushadd (POST) to /metrics/job/<job>/<grouping>, with duration, last success and per-outcome numbers."""
    assert push_run_metrics(summary(0), gateway=gateway.url, job="ora", grouping_key={"shard": "2"})
    (push,) = gateway.pushes
    assert push.method == "POST"
    assert push.path == "/metrics/job/ora/shard/2"
    s = push.samples()
    assert s[("origin_region_agent_run_duration_seconds", ())] == 42.5
    assert s[("origin_region_agent_last_success_timestamp_seconds", ())] == 1785319242.0  # 2026-07-29T10:00:42Z
    assert s[("origin_region_agent_last_run_timestamp_seconds", ())] == 1785319242.0
    assert s[("origin_region_agent_exit_code", ())] == 0
    assert s[("origin_region_agent_mappings", (("outcome", "created"),))] == 2
    assert s[("origin_region_agent_mappings", (("outcome", "updated"),))] == 1
    assert s[("origin_region_agent_mappings", (("outcome", "unmatched"),))] == 1
    assert s[("origin_region_agent_mappings", (("outcome", "failed"),))] == 0
    assert s[("origin_region_agent_discovered_addresses", (("source", "aws"),))] == 12
    assert s[("origin_region_agent_discovered_addresses", (("source", "ranges"),))] == 900
    assert s[("origin_region_agent_scope_errors", (("source", "aws"),))] == 1
    assert s[("origin_region_agent_scope_errors", (("source", "ranges"),))] == 0
    assert s[("origin_region_agent_origin_addresses", (("vendor", "gcp"),))] == 1
    assert s[("origin_region_agent_zones", ())] == 2
    assert s[("origin_region_agent_skipped", ())] == 1
    assert s[("origin_region_agent_discovery_complete", ())] == 1


def test_failed_run_does_not_push_last_success(gateway):
    """A partial failure pushes duration and exit code but no last-success timestamp (pushadd keeps the old one)."""
    assert push_run_metrics(summary(1), gateway=gateway.url, job="ora")
    (push,) = gateway.pushes
    names = {name for name, _ in push.samples()}
    assert "origin_region_agent_run_duration_seconds" in names
    assert "origin_region_agent_last_success_timestamp_seconds" not in names
    assert push.samples()[("origin_region_agent_exit_code", ())] == 1
    assert push.path == "/metrics/job/ora"


def test_totals_missing_are_summed_from_zones(gateway):
    """Without totals, per-outcome numbers are summed over zones (lists count their items)."""
    zones = [
        {"zone": "a", "created": 2, "unmatched": ["192.0.2.1", "192.0.2.2"]},
        {"zone": "b", "created": 1, "unmatched": []},
    ]
    assert push_run_metrics(summary(0, totals={}, zones=zones), gateway=gateway.url)
    s = gateway.pushes[0].samples()
    assert s[("origin_region_agent_mappings", (("outcome", "created"),))] == 3
    assert s[("origin_region_agent_mappings", (("outcome", "unmatched"),))] == 2


def test_push_failure_is_a_warning_not_an_error(gateway, caplog):
    """A gateway answering 500 makes the push return False and log a warning; nothing is raised."""
    gateway.status = 500
    with caplog.at_level(logging.WARNING, logger="agent.metrics"):
        assert push_run_metrics(summary(0), gateway=gateway.url) is False
    assert gateway.pushes  # it was tried
    assert any("could not push metrics" in r.getMessage() for r in caplog.records)


def test_unreachable_gateway_hides_credentials_in_the_warning(caplog):
    """A closed port fails fast; the warning does not show user:password from the URL."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with caplog.at_level(logging.WARNING, logger="agent.metrics"):
        ok = push_run_metrics(summary(0), gateway=f"http://user:hunter2pass@127.0.0.1:{port}", timeout=2)
    assert ok is False
    text = " ".join(f"{r.getMessage()} {getattr(r, 'gateway', '')}" for r in caplog.records)
    assert "hunter2pass" not in text
    assert f"127.0.0.1:{port}" in text


def test_userinfo_in_the_url_becomes_basic_auth(gateway):
    """``http://user:pass@host`` pushes with an Authorization: Basic header to the plain URL."""
    import base64

    url = gateway.url.replace("http://", "http://agent:s3cr%40t@")
    assert push_run_metrics(summary(0), gateway=url, job="ora")
    (push,) = gateway.pushes
    assert push.authorization == "Basic " + base64.b64encode(b"agent:s3cr@t").decode()
    assert push.path == "/metrics/job/ora"


def test_sharded_run_pushes_under_its_shard(gateway):
    """A summary with shard "3/4" is pushed with shard=3 in the grouping key; an explicit key is kept."""
    assert push_run_metrics(summary(0, shard="3/4"), gateway=gateway.url, job="ora", grouping_key={"cluster": "eu"})
    assert push_run_metrics(summary(0, shard="0/1"), gateway=gateway.url, job="ora")
    assert [p.path for p in gateway.pushes] == ["/metrics/job/ora/cluster/eu/shard/3", "/metrics/job/ora"]


def test_build_info_and_over_cap_are_pushed(gateway):
    """build_info carries the version and API family; over_cap counts the mappings left out over all zones."""
    from importlib.metadata import version

    data = summary(0, api_family="v1")
    data["zones"][0]["over_cap"] = ["192.0.2.7", "192.0.2.8"]
    assert push_run_metrics(data, gateway=gateway.url, job="ora")
    s = gateway.pushes[0].samples()
    assert (
        s[("origin_region_agent_build_info", (("api_family", "v1"), ("version", version("origin-region-agent"))))] == 1
    )
    assert s[("origin_region_agent_over_cap", ())] == 2
