"""Feeds without internet: `feeds fetch --dir`, the actionable no-feed message, and invalid input before any fetch."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner
from feeds_support import DATA, FeedServer, ServedFile  # type: ignore[import-not-found]

from agent.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def serve_mirror(feed_server: FeedServer) -> str:
    for name, data in (
        ("/m/ip-ranges.json", "aws-ip-ranges.json.gz"),
        ("/m/cloud.json", "gcp-cloud.json.gz"),
        ("/m/public_ip_ranges.json", "oci-public_ip_ranges.json.gz"),
        ("/m/ServiceTags_Public.json", "azure-ServiceTags_Public.json.gz"),
    ):
        feed_server.files[name] = ServedFile(gzip.decompress((DATA / data).read_bytes()))
    return feed_server.url("/m")


def test_feeds_fetch_writes_files_that_lookup_reads_offline(feed_server: FeedServer, tmp_path: Path) -> None:
    """`feeds fetch --dir` writes each feed under the name feeds_dir reads; lookup then needs no network."""
    target = tmp_path / "feeds"
    code, out, err = run(
        "feeds", "fetch", "--dir", str(target), "--mirror-url", serve_mirror(feed_server),
        "--cache-dir", str(tmp_path / "cache"), "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    written = {row["feed"]: row for row in json.loads(out)["feeds"]}
    assert set(written) == {"aws", "gcp", "oci", "azure"}
    names = {Path(row["file"]).name for row in written.values()}
    assert names == {"ip-ranges.json", "cloud.json", "public_ip_ranges.json", "ServiceTags_Public.json"}
    assert all(row["entries"] > 100 for row in written.values())
    requests = sum(feed_server.count(p) for p in ("/m/ip-ranges.json", "/m/cloud.json", "/m/public_ip_ranges.json"))
    code, out, err = run("lookup", "--feeds-dir", str(target), "--offline", "-o", "json", "3.5.140.2")
    assert code == 0, err
    assert json.loads(out)["results"][0]["region"] == "ap-northeast-2"
    assert (
        sum(feed_server.count(p) for p in ("/m/ip-ranges.json", "/m/cloud.json", "/m/public_ip_ranges.json"))
        == requests
    )


def test_feeds_fetch_failure_keeps_the_good_file_and_exits_1(feed_server: FeedServer, tmp_path: Path) -> None:
    """A feed that is not a feed is named on stderr, never written over a good file, and makes the exit code 1."""
    target = tmp_path / "feeds"
    target.mkdir()
    (target / "cloud.json").write_text('{"prefixes": []}')
    feed_server.files["/bad.json"] = ServedFile(b"<html>captive portal</html>")
    code, _, err = run(
        "feeds", "fetch", "--dir", str(target), "--feed", "gcp", "--gcp-url", feed_server.url("/bad.json")
    )
    assert code == 1 and "gcp feed" in err and "not a valid feed" in err
    assert (target / "cloud.json").read_text() == '{"prefixes": []}'


def test_no_feed_message_says_how_to_fix_it(tmp_path: Path) -> None:
    """No feed loadable: the message names --feeds-dir, --mirror-url, the cache, `feeds fetch` and the file names."""
    code, _, err = run("lookup", "--offline", "--cache-dir", str(tmp_path), "1.1.1.1")
    assert code == 1
    for needle in ("--feeds-dir", "--mirror-url", str(tmp_path), "feeds fetch --dir", "ip-ranges.json", "cloud.json",
                   "public_ip_ranges.json", "ServiceTags_Public.json"):  # fmt: skip
        assert needle in err, needle


def test_invalid_ip_is_exit_2_with_or_without_feeds(tmp_path: Path) -> None:
    """`lookup 1.2.3` is invalid input whether or not a feed can be loaded."""
    code, _, err = run("lookup", "--offline", "--cache-dir", str(tmp_path), "1.2.3")
    assert code == 2 and "1.2.3" in err and "Traceback" not in err
    code, _, err = run("lookup", "--feeds-dir", str(DATA.parent / "data"), "--feed", "aws",
                       "--aws-url", str(DATA / "aws-ip-ranges.json.gz"), "1.2.3")  # fmt: skip
    assert code == 2 and "1.2.3" in err
