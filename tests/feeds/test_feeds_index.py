"""The range index against the real July 2025 feeds: known answers, overlaps, GLOBAL, and a brute-force oracle."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.feeds.index import RangeIndex
from agent.feeds.models import FeedEntry, RangeMatch
from agent.feeds.parse import parse_cidr, parse_feed
from agent.ip import InvalidIPError, canonical_ip
from agent.models import GLOBAL_REGION, Vendor


@pytest.mark.parametrize(
    ("ip", "vendor", "region", "service", "prefix"),
    [
        pytest.param("3.5.140.2", "aws", "ap-northeast-2", "EC2", "3.5.140.0/22", id="aws-v4-ec2-over-amazon"),
        pytest.param("2600:1f69:7400::1", "aws", "mx-central-1", "EC2", "2600:1f69:7400::/40", id="aws-v6"),
        pytest.param("13.32.0.1", "aws", GLOBAL_REGION, "CLOUDFRONT", "13.32.0.0/15", id="aws-global-cloudfront"),
        pytest.param("15.181.232.7", "aws", "us-east-1", "EC2", "15.181.232.0/21", id="aws-local-zone-keeps-region"),
        pytest.param("34.35.0.1", "gcp", "africa-south1", "Google Cloud", "34.35.0.0/16", id="gcp-v4"),
        pytest.param("34.8.0.1", "gcp", GLOBAL_REGION, "Google Cloud", "34.8.0.0/16", id="gcp-global-scope"),
        pytest.param("129.80.0.1", "oci", "us-ashburn-1", "OCI", "129.80.0.0/16", id="oci-v4"),
        pytest.param("20.38.64.1", "azure", "northeurope", "AzureCloud", "20.38.64.0/19", id="azure-v4"),
        pytest.param("20.52.64.1", "azure", "germanywestcentral", "DataFactory", "20.52.64.0/28", id="azure-germanywc"),
        pytest.param("51.107.0.1", "azure", "switzerlandnorth", "AzureCloud", "51.107.0.0/18", id="azure-switzerlandn"),
        pytest.param("::ffff:3.5.140.2", "aws", "ap-northeast-2", "EC2", "3.5.140.0/22", id="ipv4-mapped-as-ipv4"),
    ],
)
def test_known_answers(full_index: RangeIndex, ip: str, vendor: str, region: str, service: str, prefix: str) -> None:
    """Sample addresses of every vendor map to the vendor, region, service and prefix the feeds publish."""
    match = full_index.lookup(ip)
    assert match is not None
    assert (match.vendor, match.region, match.service, match.prefix) == (vendor, region, service, prefix)


def _feed_prefix(doc: Any, predicate: Any) -> str:
    return next(p for p in doc if predicate(p))


def test_known_answers_derived_from_feed(full_index: RangeIndex, feed_docs: dict[Vendor, Any]) -> None:
    """IPv6 answers for GCP and Azure, and an AWS Local Zone border group, taken from the feed documents themselves."""
    gcp_v6 = _feed_prefix(feed_docs[Vendor.GCP]["prefixes"], lambda p: "ipv6Prefix" in p and p["scope"] != "global")
    net = ipaddress.ip_network(gcp_v6["ipv6Prefix"])
    match = full_index.lookup(str(net.network_address + 1))
    assert match is not None and (match.vendor, match.region) == ("gcp", gcp_v6["scope"])

    tag = next(v for v in feed_docs[Vendor.AZURE]["values"] if v["name"] == "AzureCloud.westeurope")
    v6 = ipaddress.ip_network(next(p for p in tag["properties"]["addressPrefixes"] if ":" in p))
    match = full_index.lookup(str(v6.network_address + 5))
    assert match is not None and (match.vendor, match.region) == ("azure", "westeurope")

    lz = _feed_prefix(
        feed_docs[Vendor.AWS]["prefixes"],
        lambda p: p["service"] == "EC2" and p["network_border_group"] != p["region"],
    )
    match = full_index.lookup(str(ipaddress.ip_network(lz["ip_prefix"]).network_address))
    assert match is not None
    assert match.region == lz["region"] and match.network_border_group == lz["network_border_group"]
    assert ("network_border_group", lz["network_border_group"]) in match.details()


def test_no_cloud(full_index: RangeIndex) -> None:
    """Addresses outside every feed answer None."""
    for ip in ("8.8.8.8", "192.0.2.1", "1.1.1.1", "2001:db8::1", "::1", "0.0.0.0", "255.255.255.255"):
        assert full_index.lookup(ip) is None, ip


def test_ec2_beats_amazon_on_the_same_prefix(feed_docs: dict[Vendor, Any], full_index: RangeIndex) -> None:
    """Every prefix the AWS feed lists as both AMAZON and EC2 answers EC2 (AMAZON is the superset)."""
    by_prefix: dict[str, set[str]] = {}
    for p in feed_docs[Vendor.AWS]["prefixes"]:
        by_prefix.setdefault(p["ip_prefix"], set()).add(p["service"])
    both = [prefix for prefix, services in by_prefix.items() if {"AMAZON", "EC2"} <= services]
    assert len(both) > 1000
    answered_by_prefix = 0
    for prefix in both:
        net = ipaddress.ip_network(prefix)
        for ip in (net.network_address, net.broadcast_address):
            match = full_index.lookup(str(ip))
            assert match is not None
            if match.prefix == prefix:
                answered_by_prefix += 1
                assert match.service == "EC2", (prefix, match)
            else:  # a longer prefix nested inside answers instead
                assert ipaddress.ip_network(match.prefix).subnet_of(net), (prefix, match)  # type: ignore[arg-type]
    assert answered_by_prefix > len(both)


def test_longer_prefix_wins_and_global_parent_does_not_hide_region(
    full_index: RangeIndex, feed_docs: dict[Vendor, Any]
) -> None:
    """A regional AWS prefix inside a GLOBAL one answers the region; the rest of the GLOBAL block stays global."""
    entries = [e for e in parse_feed(Vendor.AWS, feed_docs[Vendor.AWS]) if e.version == 4]
    globals_ = [e for e in entries if e.match.region == GLOBAL_REGION]
    regional = [e for e in entries if e.match.region != GLOBAL_REGION]
    nested = next(
        (g, r) for r in regional for g in globals_ if g.start <= r.start and r.end <= g.end and g.rank[1] < r.rank[1]
    )
    parent, child = nested
    inside = full_index.lookup(str(ipaddress.IPv4Address(child.start)))
    assert inside is not None and inside.region == child.match.region
    outside_value = parent.start if parent.start < child.start else child.end + 1
    outside = full_index.lookup(str(ipaddress.IPv4Address(outside_value)))
    assert outside is not None and outside.region != child.match.region


def test_azure_regional_tag_beats_longer_non_regional_tag(feed_docs: dict[Vendor, Any], full_index: RangeIndex) -> None:
    """An address in a non-regional Azure tag (``Storage``) and in ``AzureCloud.<region>`` answers the region."""
    values = feed_docs[Vendor.AZURE]["values"]
    storage_global = next(v for v in values if v["name"] == "Storage")
    regional: dict[tuple[int, int, int], str] = {}  # (version, length, network) -> feed region
    for tag in values:
        if tag["name"].startswith("AzureCloud."):
            for prefix in tag["properties"]["addressPrefixes"]:
                version, start, _, length = parse_cidr(prefix)
                regional[(version, length, start)] = tag["properties"]["region"]
    checked = 0
    for prefix in storage_global["properties"]["addressPrefixes"]:
        version, start, _, length = parse_cidr(prefix)
        bits = 32 if version == 4 else 128
        owners = [
            regional[key]
            for n in range(length + 1)
            if (key := (version, n, start & ~((1 << (bits - n)) - 1))) in regional
        ]
        if not owners:
            continue
        match = full_index.lookup_int(version, start)
        assert match is not None and match.vendor == "azure" and not match.is_global, (prefix, match)
        assert match.feed_region == owners[-1]
        checked += 1
    assert checked > 500


def test_azure_untagged_region_is_global(feed_docs: dict[Vendor, Any], full_index: RangeIndex) -> None:
    """A prefix only in region-less tags (Front Door) is reported global, never as a region."""
    front_door = next(v for v in feed_docs[Vendor.AZURE]["values"] if v["name"] == "AzureFrontDoor.Frontend")
    globals_seen = 0
    for prefix in front_door["properties"]["addressPrefixes"]:
        net = ipaddress.ip_network(prefix)
        match = full_index.lookup(str(net.network_address))
        assert match is not None
        if match.is_global:
            globals_seen += 1
            assert match.region == GLOBAL_REGION and match.feed_region == ""
    assert globals_seen > 0


def test_global_is_never_a_region(full_index: RangeIndex, feed_entries: list[FeedEntry]) -> None:
    """No match carries the feeds' own spelling of global (``GLOBAL``/``global``) except as GLOBAL_REGION."""
    for entry in feed_entries:
        assert entry.match.region != "GLOBAL"
        if entry.match.feed_region in ("GLOBAL", "global") or (
            entry.match.vendor == "azure" and not entry.match.feed_region
        ):
            assert entry.match.is_global


def test_nested_flattening_synthetic() -> None:
    """A low-ranked child keeps its parent's answer on both sides; a high-ranked grandchild wins only inside."""
    parent = RangeMatch(Vendor.AWS, "us-east-1", "EC2", "10.0.0.0/8")
    child = RangeMatch(Vendor.AWS, "us-east-1", "AMAZON", "10.1.0.0/16")
    grandchild = RangeMatch(Vendor.AWS, "us-east-1", "S3", "10.1.2.0/24")
    other = RangeMatch(Vendor.AWS, GLOBAL_REGION, "CLOUDFRONT", "10.1.2.128/25")

    def entry(m: RangeMatch, rank: tuple[int, int, int]) -> FeedEntry:
        version, start, end, _ = parse_cidr(m.prefix)
        return FeedEntry(version, start, end, rank, m)

    index = RangeIndex.from_entries(
        [
            entry(child, (1, 1, 0)),  # ranked below its parent on purpose
            entry(parent, (1, 2, 5)),
            entry(grandchild, (1, 24, 1)),
            entry(other, (0, 25, 9)),  # non-regional: loses to the regional grandchild despite the longer prefix
        ]
    )
    assert index.lookup("10.0.0.0") is parent
    assert index.lookup("10.1.0.0") is parent
    assert index.lookup("10.1.2.0") is grandchild
    assert index.lookup("10.1.2.200") is grandchild
    assert index.lookup("10.1.3.0") is parent
    assert index.lookup("10.255.255.255") is parent
    assert index.lookup("11.0.0.0") is None
    assert index.lookup("9.255.255.255") is None
    assert index.interval_count == 3  # parent | grandchild | parent, the low-ranked child merged away


@pytest.mark.parametrize(
    "text",
    [
        "1.2.3",
        "010.0.0.1",
        " 1.2.3.4",
        "1.2.3.4/32",
        "fe80::1%eth0",
        "",
        "::ffff:1.2.3.04",
        "x",
        "1.2.3.256",
        "\uff11.2.3.4",  # fullwidth digit one
    ],
)
def test_invalid_input_raises_like_canonical_ip(full_index: RangeIndex, text: str) -> None:
    """lookup refuses exactly what canonical_ip refuses, with the same InvalidIPError naming the value."""
    with pytest.raises(InvalidIPError) as excinfo:
        full_index.lookup(text)
    assert repr(text) in str(excinfo.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="0123456789abcdefABCDEF.:%/ x", max_size=40))
def test_lookup_accepts_what_canonical_ip_accepts(text: str) -> None:
    """For arbitrary text, lookup raises InvalidIPError iff canonical_ip does."""
    index = _tiny_index()
    try:
        canonical_ip(text)
        valid = True
    except InvalidIPError:
        valid = False
    if valid:
        index.lookup(text)
    else:
        with pytest.raises(InvalidIPError):
            index.lookup(text)


def _tiny_index() -> RangeIndex:
    return RangeIndex.from_feeds({"gcp": {"prefixes": [{"ipv4Prefix": "1.0.0.0/8", "scope": "x", "service": "s"}]}})


# -- brute force oracle ---------------------------------------------------------------------------------------------


class BruteForce:
    """The definition of the answer, independent of the interval flattening: among every prefix that contains the
    address (found by masking it at each prefix length), the one with the highest (rank, earliest in feed order)."""

    def __init__(self, entries: list[FeedEntry]) -> None:
        self.by_network: dict[tuple[int, int, int], list[tuple[int, FeedEntry]]] = {}
        for seq, entry in enumerate(entries):
            key = (entry.version, entry.rank[1], entry.start)
            self.by_network.setdefault(key, []).append((seq, entry))
        self.lengths = {v: sorted({k[1] for k in self.by_network if k[0] == v}) for v in (4, 6)}

    def lookup(self, version: int, value: int) -> RangeMatch | None:
        bits = 32 if version == 4 else 128
        best: tuple[tuple[int, int, int, int], RangeMatch] | None = None
        for length in self.lengths[version]:
            network = value & ~((1 << (bits - length)) - 1)
            for seq, entry in self.by_network.get((version, length, network), ()):
                key = (*entry.rank, -seq)
                if best is None or key > best[0]:
                    best = (key, entry.match)
        return best[1] if best else None


@pytest.fixture(scope="module")
def brute(feed_entries: list[FeedEntry]) -> BruteForce:
    return BruteForce(feed_entries)


def _text(version: int, value: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def _ips(entries: list[FeedEntry]) -> st.SearchStrategy[tuple[int, int]]:
    uniform_v4 = st.integers(0, 2**32 - 1).map(lambda v: (4, v))
    uniform_v6 = st.integers(0, 2**128 - 1).map(lambda v: (6, v))
    # global unicast space, where the feeds live, so that uniform IPv6 draws also hit something now and then
    unicast_v6 = st.integers(0x2000 << 112, (0x4000 << 112) - 1).map(lambda v: (6, v))
    inside = st.sampled_from(entries).flatmap(
        lambda e: st.one_of(
            st.sampled_from([e.start, e.end, max(e.start - 1, 0), e.end + 1]),
            st.integers(e.start, e.end),
        ).map(lambda v, e=e: (e.version, min(v, 2 ** (32 if e.version == 4 else 128) - 1)))
    )
    return st.one_of(uniform_v4, uniform_v6, unicast_v6, inside, inside)


def test_index_agrees_with_brute_force(
    full_index: RangeIndex, brute: BruteForce, feed_entries: list[FeedEntry]
) -> None:
    """Thousands of random IPs (uniform, and inside/at the edges of real prefixes) get the brute-force answer."""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(_ips(feed_entries), min_size=100, max_size=100))
    def check(ips: list[tuple[int, int]]) -> None:
        for version, value in ips:
            expected = brute.lookup(version, value)
            got = full_index.lookup(_text(version, value))
            assert got == expected, (_text(version, value), got, expected)

    check()


def test_every_prefix_start_agrees_with_brute_force(
    full_index: RangeIndex, brute: BruteForce, feed_entries: list[FeedEntry]
) -> None:
    """Deterministic sweep: the first and last address of every 7th prefix of all four feeds."""
    for entry in feed_entries[::7]:
        for value in (entry.start, entry.end):
            assert full_index.lookup_int(entry.version, value) == brute.lookup(entry.version, value)
