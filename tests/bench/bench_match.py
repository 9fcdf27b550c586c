"""Figure: match + plan for 1,000,000 inventory records against 10,000 origin IPs over 50 zones.

Goal (issue 3): ≤ 2 s and ≤ 500 MB peak. Prints the time of each stage and the peak RSS of the process.
Run: python tests/bench/bench_match.py
"""

from __future__ import annotations

import random
import resource
import sys
import time

from agent.match import match
from agent.models import CloudAddress, Confidence, RegionMapping, Vendor
from agent.plan import POLICIES, calculate

RECORDS = 1_000_000
ORIGINS = 10_000
ZONES = 50
REGIONS = {
    Vendor.AWS: ["us-east-1", "eu-west-1", "ap-south-1"],
    Vendor.GCP: ["us-central1", "europe-west1"],
    Vendor.AZURE: ["eastus", "westeurope"],
    Vendor.OCI: ["us-ashburn-1", "eu-frankfurt-1"],
}
SUPPORTED = {v.value: set(r) for v, r in REGIONS.items()}


def ip_of(n: int) -> str:
    return f"{10 + (n >> 24) % 100}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def main() -> int:
    rng = random.Random(7)
    vendors = list(REGIONS)
    t0 = time.perf_counter()
    records = []
    for n in range(RECORDS):
        vendor = vendors[n % 4]
        records.append(
            CloudAddress(
                ip=ip_of(n * 7919),
                vendor=vendor,
                region=REGIONS[vendor][n % len(REGIONS[vendor])],
                account=f"acct-{n % 500}",
                resource_id=f"r-{n}",
                kind="instance",
                source=vendor.value,
                confidence=Confidence.ACCOUNT,
            )
        )
    build = time.perf_counter() - t0

    # 10,000 origins: 9,000 in the inventory, 1,000 not; spread over 50 zones.
    picked = rng.sample(range(RECORDS), 9_000)
    origin_ips = [records[i].ip for i in picked] + [
        f"198.{18 + i // 65536}.{(i >> 8) & 255}.{i & 255}" for i in range(1_000)
    ]
    zones = [set(origin_ips[z::ZONES]) for z in range(ZONES)]
    # Each zone already has half of its matched IPs mapped.
    current = [
        {ip: RegionMapping(ip, Vendor.AWS, "us-east-1") for ip in list(zone)[: len(zone) // 2]} for zone in zones
    ]

    t1 = time.perf_counter()
    result = match(records, set(origin_ips))
    t2 = time.perf_counter()
    planned = 0
    for zone, cur in zip(zones, current, strict=True):
        desired = {ip: result.desired[ip] for ip in zone if ip in result.desired}
        plan = calculate(cur, desired, origin_ips=zone, supported=SUPPORTED, policy=POLICIES["upsert"], complete=True)
        planned += len(plan)
    t3 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"records built:      {RECORDS:,} in {build:.2f} s (not part of the goal)")
    print(
        f"match:              {t2 - t1:.3f} s  ({len(result.desired):,} matched, {len(result.unmatched):,} unmatched)"
    )
    print(f"plan (50 zones):    {t3 - t2:.3f} s  ({planned:,} changes)")
    print(f"match + plan:       {t3 - t1:.3f} s   goal <= 2 s")
    print(f"peak RSS (process): {peak_mb:.0f} MB  goal <= 500 MB")
    missed = [name for name, ok in (("time", t3 - t1 <= 2.0), ("memory", peak_mb <= 500)) if not ok]
    if missed:
        print(f"GOAL MISSED: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
