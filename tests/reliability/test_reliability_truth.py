"""Exit codes and summaries tell the truth (issue 12, part 4), and bad inventory input (part 3), through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.sandbox.cloudflare import FakeCloudflare, RecordedRequest
from tests.pipeline.conftest import TOKEN


def _ip(n: int) -> str:
    return f"198.51.{n // 250}.{n % 250 + 1}"


def test_over_cap_exits_1_and_is_counted(cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any) -> None:
    """Creates left out by the zone cap make the run exit 1 and appear in totals (and so in the metrics)."""
    cf.max_mappings = 3500
    for n in range(3499):
        cf.set_mapping(zone, f"10.{n // 250}.{n % 250}.1", "aws", "us-east-1")
    for n in range(3):
        cf.add_dns_record(zone, "A", f"h{n}.example.com", _ip(n))
    result = run_cli(
        "sync", "--config", str(write_config([(_ip(n), "aws", "us-east-1") for n in range(3)])), "--output", "json"
    )
    (z,) = result.summary["zones"]
    assert z["created"] == 1 and len(z["over_cap"]) == 2
    assert result.summary["totals"]["over_cap"] == 2
    assert result.exit_code == 1

    from prometheus_client import generate_latest

    from agent.metrics import build_registry

    text = generate_latest(build_registry(result.summary)).decode()
    assert 'outcome="over_cap"} 2.0' in text


def test_text_summary_never_says_up_to_date_when_something_is_missing(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any
) -> None:
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")  # an origin no inventory knows: unmatched
    result = run_cli("plan", "--config", str(write_config([])))
    assert "up to date" not in result.stdout
    assert "192.0.2.1" in result.stdout and "unmatched" in result.stdout.lower()


def test_unknown_zone_id_is_a_configuration_error(cf: FakeCloudflare, write_config: Any, run_cli: Any) -> None:
    config = write_config([], zones=[{"id": "0123456789abcdef0123456789abcdef"}])
    result = run_cli("plan", "--config", str(config))
    assert result.exit_code == 2
    assert "0123456789abcdef0123456789abcdef" in result.stderr and "Traceback" not in result.stderr


def test_static_csv_excel_export_and_region_spelling(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    """A UTF-8 BOM, headers `IP, Vendor, Region` and region spellings `US-EAST-1`/`WestEurope` are understood; two
    sources that differ only in case agree (not ambiguous)."""
    cf.add_dns_record(zone, "A", "a.example.com", "192.0.2.1")
    cf.add_dns_record(zone, "A", "b.example.com", "192.0.2.2")
    config = write_config([])
    excel = tmp_path / "excel.csv"
    excel.write_bytes("\ufeffIP, Vendor, Region\r\n192.0.2.1,AWS,US-EAST-1\r\n192.0.2.2,azure,WestEurope\r\n".encode())
    other = tmp_path / "other.csv"
    other.write_text("ip,vendor,region\n192.0.2.1,aws,us-east-1\n")
    config.write_text(config.read_text().replace(f"path: {tmp_path}/inventory.csv", f"paths: [{excel}, {other}]"))
    result = run_cli("sync", "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    (z,) = result.summary["zones"]
    assert z["ambiguous"] == []
    assert cf.mappings(zone) == {"192.0.2.1": ("aws", "us-east-1"), "192.0.2.2": ("azure", "westeurope")}


def test_static_csv_missing_column_is_one_clear_error(
    cf: FakeCloudflare, zone: str, write_config: Any, run_cli: Any, tmp_path: Path
) -> None:
    config = write_config([])
    (tmp_path / "inventory.csv").write_text("ip,vendor\n192.0.2.1,aws\n192.0.2.2,aws\n")
    result = run_cli("plan", "--config", str(config), "--output", "json")
    assert result.exit_code == 1
    (error,) = result.summary["discovery"]["scope_errors"]
    assert "missing column 'region'" in error["message"] and "invalid IP" not in error["message"]


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"])
def test_sigterm_during_apply_stops_cleanly_and_a_rerun_converges(
    cf: FakeCloudflare, zone: str, write_config: Any, tmp_path: Path, signum: signal.Signals, exit_code: int
) -> None:
    """SIGTERM (or a user's Ctrl-C, SIGINT) while batches are being written: the batch in flight completes, the rest is
    skipped, the summary is still printed and written, the exit code is 143 (130); the next run finishes the job."""
    rows = []
    for n in range(400):
        cf.add_dns_record(zone, "A", f"h{n:03d}.example.com", _ip(n))
        rows.append((_ip(n), "aws", "us-east-1"))
    config = str(write_config(rows))
    summary_file = tmp_path / "summary.json"
    env = {**os.environ, "CLOUDFLARE_API_TOKEN": TOKEN, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("ORIGIN_REGION_AGENT_CONFIG", None)
    args = [sys.executable, "-m", "agent", "sync", "--config", config, "--output", "json"]
    proc = subprocess.Popen(
        [*args, "--summary-file", str(summary_file), "--log-format", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sent = threading.Event()

    def terminate_after_first_batch(request: RecordedRequest) -> None:
        if request.method == "PUT" and not sent.is_set():
            sent.set()
            proc.send_signal(signum)
            time.sleep(0.5)  # let the handler run before the next request is read

    cf.after_served(terminate_after_first_batch, match="/batch")
    stdout, stderr = proc.communicate(timeout=120)
    cf.clear_hooks()
    assert sent.is_set()
    assert proc.returncode == exit_code, stderr
    summary = json.loads(stdout)
    assert json.loads(summary_file.read_text()) == summary
    assert summary["stopped_by"] == signum.name and summary["exit_code"] == exit_code
    assert '"summary"' in stderr.splitlines()[-1]  # the JSON log still ends with the summary
    (z,) = summary["zones"]
    skipped = [f for f in z["failed"] if f"stopped by {signum.name}" in f["error"]]
    assert 100 <= z["created"] < 400 and z["created"] + len(skipped) == 400
    assert len(cf.mappings(zone)) == z["created"]

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert len(cf.mappings(zone)) == 400
