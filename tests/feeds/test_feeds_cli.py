"""``origin-region-agent lookup``: arguments and stdin, text/json/csv, no-cloud answers, invalid input, exit codes."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from feeds_support import DATA, FeedServer, ServedFile  # type: ignore[import-not-found]

from agent.feeds.cli import lookup


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(lookup, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_text_output(feeds_dir: Path) -> None:
    """Vendor, region, service and prefix per IP; plain words for no cloud and for global."""
    code, out, err = run("--feeds-dir", str(feeds_dir), "-o", "text", "3.5.140.2", "8.8.8.8", "13.32.0.1", "20.52.64.1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "3.5.140.2: aws ap-northeast-2 (service EC2, prefix 3.5.140.0/22)"
    assert lines[1] == "8.8.8.8: no cloud: not in the aws, gcp, oci, azure feeds"
    assert lines[2].startswith("13.32.0.1: aws global (not regional, never mapped")
    assert lines[3].startswith("20.52.64.1: azure germanywestcentral (service DataFactory")


def test_stdin_json(feeds_dir: Path) -> None:
    """IPs one per line on stdin (blank lines and comments skipped); JSON names each field and the feed sources."""
    code, out, _ = run("--feeds-dir", str(feeds_dir), "-o", "json", stdin="# origins\n34.35.0.1\n\n2600:1F69:7400::1\n")
    assert code == 0
    doc = json.loads(out)
    results = doc["results"]
    assert [(r["ip"], r["status"], r["vendor"], r["region"]) for r in results] == [
        ("34.35.0.1", "match", "gcp", "africa-south1"),
        ("2600:1f69:7400::1", "match", "aws", "mx-central-1"),
    ]
    assert doc["feeds"]["aws"]["origin"] == "file" and doc["feed_errors"] == {}


def test_csv_and_invalid_input_exit_2(feeds_dir: Path) -> None:
    """An invalid IP is named on stderr without a traceback, listed as invalid, and makes the exit code 2."""
    code, out, err = run("--feeds-dir", str(feeds_dir), "--feed", "oci", "-o", "csv", "129.80.0.1", "010.1.1.1")
    assert code == 2
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["ip"], r["status"], r["region"]) for r in rows] == [
        ("129.80.0.1", "match", "us-ashburn-1"),
        ("010.1.1.1", "invalid", ""),
    ]
    assert "'010.1.1.1'" in err and "Traceback" not in err


def test_no_cloud_is_not_an_error(feeds_dir: Path) -> None:
    """An IP in no feed exits 0."""
    code, out, _ = run("--feeds-dir", str(feeds_dir), "--feed", "gcp", "192.0.2.1")
    assert code == 0 and "no cloud" in out


def test_bad_option_exit_2_and_no_ip_exit_2(feeds_dir: Path) -> None:
    """A bad duration and an empty IP list are usage errors (exit 2) naming the problem."""
    code, _, err = run("--feeds-dir", str(feeds_dir), "--max-age", "soon", "1.1.1.1")
    assert code == 2 and "max_age" in err
    code, _, err = run("--feeds-dir", str(feeds_dir), stdin="")
    assert code == 2 and "no IP given" in err


def test_offline_without_cache_exit_1(tmp_path: Path) -> None:
    """Offline with an empty cache: every feed fails, said plainly, exit 1 (not an input error)."""
    code, _, err = run("--offline", "--cache-dir", str(tmp_path), "1.1.1.1")
    assert code == 1 and "offline and no cached copy" in err and "no feed could be loaded" in err


def test_url_overrides_fetch_from_a_mirror(feed_server: FeedServer, tmp_path: Path) -> None:
    """--aws-url points the AWS feed at a URL; the download is cached and the next run works offline."""
    feed_server.files["/aws.json"] = ServedFile(gzip.decompress((DATA / "aws-ip-ranges.json.gz").read_bytes()))
    args = ("--feed", "aws", "--aws-url", feed_server.url("/aws.json"), "--cache-dir", str(tmp_path))
    code, out, _ = run(*args, "3.5.140.2")
    assert code == 0 and "ap-northeast-2" in out
    code, out, _ = run(*args, "--offline", "3.5.140.2")
    assert code == 0 and "ap-northeast-2" in out
    assert feed_server.count("/aws.json") == 1


def test_azure_service_tags_option(tmp_path: Path) -> None:
    """--azure-service-tags enables the Azure feed from a local file."""
    code, out, _ = run(
        "--feed", "azure", "--azure-service-tags", str(DATA / "azure-ServiceTags_Public.json.gz"), "51.107.0.1"
    )
    assert code == 0 and "azure    switzerlandnorth" in out


@pytest.mark.parametrize("module", ["agent.feeds.cli", "agent.feeds"])
def test_import_is_cheap(module: str) -> None:
    """Importing the command does not import httpx, pydantic or the parsers (the CLI loads them on use)."""
    heavy = ("httpx", "pydantic", "agent.feeds.parse")
    code = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
