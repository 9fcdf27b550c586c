"""Matching inventory records to origin IPs (pure)."""

from __future__ import annotations

import pytest

from agent.match import match
from agent.models import GLOBAL_REGION, CloudAddress, Confidence, Vendor


def addr(
    ip: str,
    vendor: str = "aws",
    region: str = "us-east-1",
    *,
    source: str = "aws",
    confidence: Confidence = Confidence.ACCOUNT,
    account: str = "",
) -> CloudAddress:
    return CloudAddress(
        ip=ip, vendor=Vendor(vendor), region=region, source=source, confidence=confidence, account=account
    )


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param([addr("192.0.2.1")], ("desired", "aws", "us-east-1"), id="single-record-matches"),
        pytest.param(
            [
                addr("192.0.2.1", account="1"),
                addr("192.0.2.1", account="2", source="static", confidence=Confidence.STATIC),
            ],
            ("desired", "aws", "us-east-1"),
            id="same-region-twice-merges",
        ),
        pytest.param(
            [addr("192.0.2.1"), addr("192.0.2.1", region="eu-west-1")], ("ambiguous",), id="two-regions-ambiguous"
        ),
        pytest.param([addr("192.0.2.1", "gcp", GLOBAL_REGION, source="gcp")], ("global",), id="global-only"),
        pytest.param(
            [addr("192.0.2.1", "gcp", GLOBAL_REGION), addr("192.0.2.1", "gcp", "us-central1")],
            ("desired", "gcp", "us-central1"),
            id="global-plus-regional-picks-regional",
        ),
        pytest.param(
            [addr("192.0.2.1", source="ranges", confidence=Confidence.FEED)],
            ("desired", "aws", "us-east-1"),
            id="feed-only-matches",
        ),
        pytest.param(
            [addr("192.0.2.1"), addr("192.0.2.1", region="eu-west-1", source="ranges", confidence=Confidence.FEED)],
            ("desired", "aws", "us-east-1"),
            id="account-outranks-feed",
        ),
        pytest.param([addr("192.0.2.9")], ("unmatched",), id="other-ip-unmatched"),
    ],
)
def test_match_outcomes(records: list[CloudAddress], expected: tuple[str, ...]) -> None:
    result = match(records, {"192.0.2.1"})
    kind = expected[0]
    if kind == "desired":
        desired = result.desired["192.0.2.1"]
        assert (desired.vendor, desired.region) == expected[1:]
        assert not result.ambiguous and not result.unmatched
    elif kind == "ambiguous":
        assert set(result.ambiguous) == {"192.0.2.1"} and not result.desired
    elif kind == "global":
        assert set(result.global_only) == {"192.0.2.1"} and not result.desired
    else:
        assert result.unmatched == {"192.0.2.1"} and not result.desired


def test_merged_sources_and_feed_disagreement_are_kept() -> None:
    """Sources of one claim are merged; a feed that disagrees with the account is reported, not used."""
    result = match(
        [
            addr("192.0.2.1", account="111"),
            addr("192.0.2.1", source="static", confidence=Confidence.STATIC),
            addr("192.0.2.1", region="eu-west-1", source="ranges", confidence=Confidence.FEED),
        ],
        {"192.0.2.1"},
    )
    desired = result.desired["192.0.2.1"]
    assert desired.sources == ("aws:111", "static")
    assert [(c.vendor, c.region) for c in desired.disagreements] == [("aws", "eu-west-1")]
    assert desired.confidence == "account"


def test_feed_only_match_has_feed_confidence() -> None:
    result = match([addr("192.0.2.1", source="ranges", confidence=Confidence.FEED)], ["192.0.2.1"])
    assert result.desired["192.0.2.1"].confidence == "feed"


def test_evidence_time_is_the_freshest_engine_observation_or_live() -> None:
    from datetime import UTC, datetime

    early, late = datetime(2026, 3, 1, 11, tzinfo=UTC), datetime(2026, 3, 1, 12, tzinfo=UTC)

    def seen(resource: str, at: datetime | None) -> CloudAddress:
        return CloudAddress("192.0.2.1", Vendor.AWS, "us-east-1", "1", resource, source="aws", observed_at=at)

    assert match([seen("a", early), seen("b", late)], {"192.0.2.1"}).desired["192.0.2.1"].observed_at == late
    assert match([seen("a", early), seen("b", None)], {"192.0.2.1"}).desired["192.0.2.1"].observed_at is None
