"""Benchmark (a script, not a test): map 3,500 origin IPs on an empty zone through `CloudflareClient`.

Starts the sandbox fake on 127.0.0.1, writes 3,500 mappings (the per-zone maximum) with batch upserts of 100, and
prints the number of write requests and the wall time, for the v2 API (goal: at most 37 write requests) and, for
comparison, the deprecated v1 API. It then reads everything back once to check the result and time the listing.

    python tests/bench/bench_cloudflare.py [--latency SECONDS]

`--latency` makes the fake really sleep before each answer, to approximate a network round trip. The client uses its
production defaults (system clock, default rate limiter: 1,000 requests / 300 s, bursts of 50 per second).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.cloudflare import BATCH_LIMIT, ApiFamily, CloudflareClient, CloudflareCredentials, RateLimiter
from agent.models import RegionMapping, Vendor
from agent.sandbox.cloudflare import FakeCloudflare

TOKEN = "bench-token"
MAPPINGS = 3500
REGIONS = [("aws", "us-east-1"), ("aws", "eu-west-1"), ("gcp", "us-central1"), ("azure", "westeurope"),
           ("oci", "us-ashburn-1")]  # fmt: skip


def desired() -> list[RegionMapping]:
    """3,500 distinct origins: 3,000 IPv4 and 500 IPv6, spread over the four vendors."""
    items = []
    for i in range(MAPPINGS):
        if i < 3000:
            ip = str(ipaddress.IPv4Address("198.18.0.0") + i)
        else:
            ip = str(ipaddress.IPv6Address("2001:db8::") + (i << 16))
        vendor, region = REGIONS[i % len(REGIONS)]
        items.append(RegionMapping(ip, Vendor(vendor), region))
    return items


def run(family: ApiFamily, latency: float) -> dict[str, float]:
    items = desired()
    with FakeCloudflare(tokens=(TOKEN,)) as fake:
        zone_id = fake.add_zone("bench.example.com")
        fake.set_latency(latency)
        with CloudflareClient(
            CloudflareCredentials(TOKEN), base_url=fake.base_url, family=family, rate_limiter=RateLimiter()
        ) as client:
            fake.clear_requests()
            start = time.perf_counter()
            failed = 0
            for offset in range(0, len(items), BATCH_LIMIT):
                failed += len(client.batch_upsert(zone_id, items[offset : offset + BATCH_LIMIT]).failed)
            write_seconds = time.perf_counter() - start
            writes = sum(1 for r in fake.requests if r.mutating)
            fake.clear_requests()
            start = time.perf_counter()
            listed = client.list_mappings(zone_id)
            list_seconds = time.perf_counter() - start
            reads = len(fake.requests)
        stored = fake.mappings(zone_id)
    if failed or len(stored) != MAPPINGS or len(listed) != MAPPINGS:
        raise SystemExit(f"{family.value}: expected {MAPPINGS} mappings, stored {len(stored)}, failed {failed}")
    return {"writes": writes, "write_s": write_seconds, "reads": reads, "list_s": list_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the fake sleeps before each answer")
    args = parser.parse_args()
    print(f"{MAPPINGS} mappings on an empty zone, batches of {BATCH_LIMIT}, fake latency {args.latency * 1000:.0f} ms")
    for family in (ApiFamily.V2, ApiFamily.V1):
        r = run(family, args.latency)
        print(
            f"  {family.value}: {r['writes']:.0f} write requests in {r['write_s']:.2f} s"
            f" | read back with {r['reads']:.0f} request(s) in {r['list_s']:.2f} s"
        )
    print("goal (v2): <= 37 write requests")


if __name__ == "__main__":
    main()
