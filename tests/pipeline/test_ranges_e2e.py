"""The `ranges` source end to end: feed-only matches, and account evidence outranking a disagreeing feed."""

from __future__ import annotations

from pathlib import Path

from agent.sandbox.cloudflare import FakeCloudflare

DATA = Path(__file__).parent.parent / "data"


def test_feed_maps_origins_without_cloud_credentials(cf: FakeCloudflare, zone: str, write_config, run_cli) -> None:
    cf.add_dns_record(zone, "A", "a.example.com", "3.5.140.2")  # AWS EC2 ap-northeast-2
    cf.add_dns_record(zone, "AAAA", "b.example.com", "2600:1f18::1")  # AWS EC2 us-east-1
    cf.add_dns_record(zone, "A", "c.example.com", "34.0.0.1")  # GCP asia-south2
    cf.add_dns_record(zone, "A", "d.example.com", "52.95.245.1")  # in the feed, but the static inventory says otherwise
    cf.add_dns_record(zone, "A", "e.example.com", "8.8.8.8")  # in no cloud feed
    ranges = {
        "feeds": ["aws", "gcp"],
        "offline": True,
        "urls": {"aws": str(DATA / "aws-ip-ranges.json.gz"), "gcp": str(DATA / "gcp-cloud.json.gz")},
    }
    config = write_config([("52.95.245.1", "aws", "eu-west-1")], inventory={"ranges": ranges})
    result = run_cli("sync", "--config", str(config), "--output", "json")
    assert result.exit_code == 0, result.stdout
    assert cf.mappings(zone) == {
        "3.5.140.2": ("aws", "ap-northeast-2"),
        "2600:1f18::1": ("aws", "us-east-1"),
        "34.0.0.1": ("gcp", "asia-south2"),
        "52.95.245.1": ("aws", "eu-west-1"),
    }
    (z,) = result.summary["zones"]
    confidence = {c["ip"]: c["confidence"] for c in z["changes"]}
    assert confidence["3.5.140.2"] == "feed" and confidence["52.95.245.1"] == "static"
    (disagreement,) = z["disagreements"]
    assert disagreement["ip"] == "52.95.245.1" and disagreement["feed"][0]["region"] == "us-east-1"
    assert z["unmatched"] == ["8.8.8.8"]
