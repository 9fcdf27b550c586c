"""The `ranges` collector: set_origin_ips + scopes() + collect(), over local files and a local mirror."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from feeds_support import DATA, FeedServer  # type: ignore[import-not-found]

from agent.clock import FakeClock
from agent.collectors.base import load_collector
from agent.collectors.ranges.collector import RangesCollector
from agent.collectors.ranges.config import RangesConfig
from agent.errors import CollectorError, ConfigError
from agent.models import GLOBAL_REGION, CloudAddress, Confidence, Scope

ORIGINS = ["3.5.140.2", "13.32.0.1", "34.35.0.1", "129.80.0.1", "20.52.64.1", "8.8.8.8", "2600:1F69:7400::1"]


def _collect(collector: RangesCollector) -> tuple[list[Scope], dict[str, list[CloudAddress]]]:
    scopes = list(collector.scopes())
    out: dict[str, list[CloudAddress]] = {}
    for scope in scopes:
        out[scope.label] = [a for a in collector.collect(scope) if isinstance(a, CloudAddress)]
    return scopes, out


def test_collect_classifies_origin_ips(feeds_dir: Path, tmp_path: Path) -> None:
    """One leaf scope per feed; each yields the origin IPs inside it, as feed-confidence CloudAddresses."""
    collector = load_collector("ranges", {"feeds_dir": str(feeds_dir), "cache_dir": str(tmp_path / "cache")})
    assert isinstance(collector, RangesCollector) and RangesCollector.needs_origin_ips
    collector.set_origin_ips([ip.lower() for ip in ORIGINS])
    scopes, out = _collect(collector)
    assert [s.label for s in scopes] == ["ranges:aws", "ranges:gcp", "ranges:oci", "ranges:azure"]
    assert all(s.leaf for s in scopes)
    aws = {a.ip: a for a in out["ranges:aws"]}
    assert set(aws) == {"3.5.140.2", "13.32.0.1", "2600:1f69:7400::1"}
    ec2 = aws["3.5.140.2"]
    assert ec2 == CloudAddress(
        ip="3.5.140.2",
        vendor="aws",  # type: ignore[arg-type]
        region="ap-northeast-2",
        account="",
        resource_id="3.5.140.0/22",
        kind="EC2",
        source="ranges",
        confidence=Confidence.FEED,
        details=(("service", "EC2"), ("prefix", "3.5.140.0/22")),
    )
    assert aws["13.32.0.1"].region == GLOBAL_REGION
    assert [(a.ip, a.region) for a in out["ranges:gcp"]] == [("34.35.0.1", "africa-south1")]
    assert [(a.ip, a.region) for a in out["ranges:oci"]] == [("129.80.0.1", "us-ashburn-1")]
    (azure,) = out["ranges:azure"]
    assert (azure.ip, azure.region, azure.kind) == ("20.52.64.1", "germanywestcentral", "DataFactory")
    assert ("feed_region", "germanywc") in azure.details
    collector.close()


def test_a_broken_feed_fails_alone(feeds_dir: Path, tmp_path: Path) -> None:
    """A corrupt OCI file fails the oci scope with a CollectorError; the other scopes still answer."""
    (feeds_dir / "public_ip_ranges.json.gz").write_bytes(gzip.compress(b'{"not": "oci"}'))
    collector = RangesCollector.from_config({"feeds_dir": str(feeds_dir), "cache_dir": str(tmp_path)})
    collector.set_origin_ips(["129.80.0.1", "34.35.0.1"])
    scopes = {s.label: s for s in collector.scopes()}
    with pytest.raises(CollectorError) as excinfo:
        list(collector.collect(scopes["ranges:oci"]))
    assert excinfo.value.vendor == "oci" and excinfo.value.code == "bad-format"
    assert [a.ip for a in collector.collect(scopes["ranges:gcp"])] == ["34.35.0.1"]  # type: ignore[union-attr]


def test_no_origin_ips_reads_no_feed(tmp_path: Path) -> None:
    """Without origin IPs a scope yields nothing and does not even look for its feed."""
    collector = RangesCollector.from_config({"feeds_dir": str(tmp_path / "missing"), "feeds": ["aws"]})
    collector.set_origin_ips([])
    assert [list(collector.collect(s)) for s in collector.scopes()] == [[]]


def test_mirror_url_over_http_with_cache(feed_server: FeedServer, tmp_path: Path) -> None:
    """Feeds come from a mirror over HTTP, are cached, and a second collector within max_age makes no request."""
    for name, path in (("aws-ip-ranges.json.gz", "/ip-ranges.json"), ("gcp-cloud.json.gz", "/cloud.json")):
        feed_server.put(path, json.loads(gzip.decompress((DATA / name).read_bytes())))
    config = {"mirror_url": feed_server.base_url + "/", "feeds": ["aws", "gcp"], "cache_dir": str(tmp_path)}
    clock = FakeClock()
    for _ in range(2):
        collector = RangesCollector(RangesConfig.model_validate(config), clock=clock)
        collector.set_origin_ips(["3.5.140.2", "34.35.0.1"])
        _, out = _collect(collector)
        collector.close()
        assert [a.region for a in out["ranges:aws"]] == ["ap-northeast-2"]
        assert [a.region for a in out["ranges:gcp"]] == ["africa-south1"]
    assert feed_server.count("/ip-ranges.json") == 1 and feed_server.count("/cloud.json") == 1


def test_azure_service_tags_path_and_url_override(feeds_dir: Path, tmp_path: Path) -> None:
    """azure_service_tags and urls.<vendor> accept local paths; Azure is enabled only when it has a source."""
    assert vendor_values(RangesConfig().enabled_feeds) == ["aws", "gcp", "oci"]
    tags = tmp_path / "ServiceTags_Public_20250721.json.gz"
    shutil.copy(DATA / "azure-ServiceTags_Public.json.gz", tags)
    config = RangesConfig(azure_service_tags=str(tags), urls={"aws": str(DATA / "aws-ip-ranges.json.gz")})  # type: ignore[dict-item]
    assert vendor_values(config.enabled_feeds) == ["aws", "gcp", "oci", "azure"]
    collector = RangesCollector(RangesConfig.model_validate({**config.model_dump(), "feeds": ["aws", "azure"]}))
    collector.set_origin_ips(["51.107.0.1", "3.5.140.2"])
    _, out = _collect(collector)
    assert [(a.ip, a.region) for a in out["ranges:azure"]] == [("51.107.0.1", "switzerlandnorth")]
    assert [(a.ip, a.region) for a in out["ranges:aws"]] == [("3.5.140.2", "ap-northeast-2")]


def vendor_values(vendors: tuple[object, ...]) -> list[str]:
    return [str(v) for v in vendors]


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"max_age": "soon"}, "inventory.ranges.max_age"),
        ({"feeds": ["aws", "ibm"]}, "inventory.ranges.feeds"),
        ({"feeds": ["azure"]}, "no Azure source"),
        ({"mirror_url": "/srv/mirror"}, "mirror_url"),
        ({"unknown_key": 1}, "inventory.ranges.unknown_key"),
        ({"azure_discovery": {"subscription_id": "s", "arm_endpoint": "http://x"}}, "https://"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_field(section: dict[str, object], needle: str) -> None:
    """Bad settings raise ConfigError naming the field and the value, never a traceback of pydantic internals."""
    with pytest.raises(ConfigError) as excinfo:
        RangesCollector.from_config(section)
    assert needle in str(excinfo.value)


def test_durations_accept_units() -> None:
    """max_age / max_stale accept seconds or s/m/h/d suffixes."""
    config = RangesConfig.model_validate({"max_age": "30m", "max_stale": "7d"})
    assert (config.max_age, config.max_stale) == (1800, 7 * 86400)
    assert RangesConfig.model_validate({"max_age": 90}).max_age == 90


def test_default_cache_dir_follows_xdg(tmp_path: Path) -> None:
    """The cache lives in $XDG_CACHE_HOME/origin-region-agent."""
    from agent.collectors.ranges.config import default_cache_dir

    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "origin-region-agent"
    assert default_cache_dir({}).name == "origin-region-agent"
