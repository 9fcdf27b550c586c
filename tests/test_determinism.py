"""The same inputs give the same plan and the same summary, whatever order collector records arrive in."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

from agent.collectors.runner import Discovery
from agent.match import match
from agent.models import CloudAddress, Confidence, RegionMapping, ScopeError, Vendor
from agent.plan import POLICIES, calculate
from agent.report.summary import DiscoveryOutcome, RunOutcome, ZoneMatch, ZoneOutcome, summarize

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def rec(ip: str, vendor: str, region: str, source: str, confidence: Confidence, account: str = "") -> CloudAddress:
    return CloudAddress(ip, Vendor(vendor), region, account=account, source=source, confidence=confidence)


RECORDS = [
    # one IP seen by an account API, a static inventory and a feed: account and static agree, the feed does not
    rec("192.0.2.1", "aws", "us-east-1", "aws", Confidence.ACCOUNT, "111"),
    rec("192.0.2.1", "aws", "us-east-1", "static", Confidence.STATIC),
    rec("192.0.2.1", "aws", "us-west-2", "ranges", Confidence.FEED),
    # the same IP from two accounts (same region): sources merge
    rec("192.0.2.2", "gcp", "europe-west1", "gcp", Confidence.ACCOUNT, "proj-b"),
    rec("192.0.2.2", "gcp", "europe-west1", "gcp", Confidence.ACCOUNT, "proj-a"),
    # ambiguous between two accounts
    rec("192.0.2.3", "aws", "eu-west-1", "aws", Confidence.ACCOUNT, "222"),
    rec("192.0.2.3", "azure", "westeurope", "azure", Confidence.ACCOUNT, "sub-1"),
    # global next to regional: regional wins
    rec("192.0.2.4", "gcp", "global", "gcp", Confidence.ACCOUNT, "proj-a"),
    rec("192.0.2.4", "gcp", "us-central1", "static", Confidence.STATIC),
    # only global
    rec("192.0.2.5", "gcp", "global", "gcp", Confidence.ACCOUNT, "proj-a"),
    # feed only, two feeds disagreeing on region: ambiguous at the feed tier
    rec("2001:db8::1", "oci", "us-ashburn-1", "ranges", Confidence.FEED),
    rec("2001:db8::1", "oci", "us-phoenix-1", "ranges", Confidence.FEED),
    # static before account in one order, after in another: the confidence must not follow arrival order
    rec("198.51.100.1", "aws", "ap-south-1", "static", Confidence.STATIC),
    rec("198.51.100.1", "aws", "ap-south-1", "aws", Confidence.ACCOUNT, "333"),
    rec("198.51.100.9", "oci", "us-ashburn-1", "oci", Confidence.ACCOUNT, "tenancy"),  # not an origin
]
ORIGINS = {
    "192.0.2.1",
    "192.0.2.2",
    "192.0.2.3",
    "192.0.2.4",
    "192.0.2.5",
    "2001:db8::1",
    "198.51.100.1",
    "203.0.113.1",
}
ERRORS = [
    ScopeError("aws:444/eu-north-1", "CollectorError", "AccessDenied", "denied"),
    ScopeError("gcp:proj-z", "CollectorError", "403", "forbidden"),
    ScopeError("aws:444/ap-east-1", "CollectorError", "OptInRequired", "opt in"),
]
CURRENT = {
    "192.0.2.2": RegionMapping("192.0.2.2", Vendor.GCP, "europe-west4"),
    "203.0.113.9": RegionMapping("203.0.113.9", Vendor.AWS, "us-east-1"),
}


def summary_for(records: list[CloudAddress], errors: list[ScopeError]) -> str:
    discovery = Discovery(records=records, errors=errors, counts=Counter(r.source for r in records), scopes_done=9)
    matched = match(discovery.records, ORIGINS)
    zone_match = ZoneMatch.of(matched, ORIGINS)
    plan = calculate(
        CURRENT,
        {d.ip: d for d in zone_match.desired},
        origin_ips=ORIGINS,
        supported=None,
        policy=POLICIES["sync"],
        complete=discovery.complete,
    )
    zone = ZoneOutcome(
        zone="example.com",
        zone_id="z1",
        origins=tuple((ip, (f"A {ip}",)) for ip in sorted(ORIGINS)),
        current_mappings=len(CURRENT),
        match=zone_match,
        plan=plan,
    )
    run = RunOutcome(
        started_at=NOW, dry_run=True, policy="sync", discovery=DiscoveryOutcome.of(discovery), zones=(zone,)
    )
    return json.dumps(summarize(run))


def test_match_confidence_does_not_follow_record_order() -> None:
    account = rec("192.0.2.1", "aws", "us-east-1", "aws", Confidence.ACCOUNT, "111")
    static = rec("192.0.2.1", "aws", "us-east-1", "static", Confidence.STATIC)
    forward = match([account, static], {"192.0.2.1"}).desired["192.0.2.1"]
    backward = match([static, account], {"192.0.2.1"}).desired["192.0.2.1"]
    assert forward == backward
    assert forward.confidence is Confidence.ACCOUNT and forward.sources == ("aws:111", "static")


def test_shuffled_collector_output_gives_an_identical_summary() -> None:
    rng = random.Random(13)
    expected = summary_for(list(RECORDS), list(ERRORS))
    for _ in range(300):
        records, errors = list(RECORDS), list(ERRORS)
        rng.shuffle(records)
        rng.shuffle(errors)
        assert summary_for(records, errors) == expected
    summary = json.loads(expected)
    (zone,) = summary["zones"]
    assert [c["confidence"] for c in zone["changes"] if c["ip"] == "198.51.100.1"] == ["account"]
    assert [e["scope"] for e in summary["discovery"]["scope_errors"]] == sorted(e.scope for e in ERRORS)


CLOCK = re.compile(rb'"(started_at|finished_at)": "[^"]*"|"duration_s": [0-9.eE+-]+')


def test_demo_summary_is_byte_identical_across_runs() -> None:
    """Two demo runs (separate processes, every installed cloud) print the same JSON apart from the clock."""
    env = {**os.environ, "COLUMNS": "200"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent", "demo", "--output", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    first, second = (CLOCK.sub(rb"<clock>", out) for out in outputs)
    assert first == second
    assert first.count(b"<clock>") >= 6  # both summaries' timestamps were masked, nothing else
    assert json.loads(outputs[0])["summary"]["zones"][0]["created"] > 0
