"""Figure: build the range index from all four real feeds, then look up 1,000,000 random IPs (IPv4 and IPv6 text).

Goal (issue 8): build ≤ 1 s (from the gzip files in tests/data: decompress + JSON + parse + flatten), 1,000,000
lookups including parsing the IP text ≤ 3 s. Also checks the answers against a brute-force scan on a sample.
Run: python tests/bench/bench_lookup.py [--lookups N] [--sample N]
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import random
import sys
import time
from pathlib import Path

from agent.feeds.index import RangeIndex
from agent.feeds.models import FeedEntry, RangeMatch
from agent.feeds.parse import parse_feed
from agent.models import Vendor

DATA = Path(__file__).resolve().parent.parent / "data"
FILES = {
    Vendor.AWS: "aws-ip-ranges.json.gz",
    Vendor.GCP: "gcp-cloud.json.gz",
    Vendor.OCI: "oci-public_ip_ranges.json.gz",
    Vendor.AZURE: "azure-ServiceTags_Public.json.gz",
}


def random_ips(rng: random.Random, entries: list[FeedEntry], count: int) -> list[str]:
    """Half IPv4, half IPv6; half of each drawn inside a real prefix (so lookups hit), half uniform."""
    v4 = [e for e in entries if e.version == 4]
    v6 = [e for e in entries if e.version == 6]
    ips: list[str] = []
    for i in range(count):
        inside = i % 4 < 2
        if i % 2 == 0:
            value = rng.randint((e := rng.choice(v4)).start, e.end) if inside else rng.getrandbits(32)
            ips.append(str(ipaddress.IPv4Address(value)))
        else:
            value = rng.randint((e := rng.choice(v6)).start, e.end) if inside else (0x2 << 124) | rng.getrandbits(124)
            ips.append(str(ipaddress.IPv6Address(value)))
    return ips


def brute_force(entries: list[FeedEntry], version: int, value: int) -> RangeMatch | None:
    """Scan every prefix; keep the best rank (earliest in feed order on a tie)."""
    best: tuple[tuple[int, int, int, int], RangeMatch] | None = None
    for seq, e in enumerate(entries):
        if e.version == version and e.start <= value <= e.end:
            key = (*e.rank, -seq)
            if best is None or key > best[0]:
                best = (key, e.match)
    return best[1] if best else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=300, help="IPs checked against a full brute-force scan")
    args = parser.parse_args()

    c0, t0 = time.process_time(), time.perf_counter()
    docs = {vendor: json.loads(gzip.decompress((DATA / name).read_bytes())) for vendor, name in FILES.items()}
    t1 = time.perf_counter()
    index = RangeIndex.from_feeds(docs)
    t2, c2 = time.perf_counter(), time.process_time()
    print(f"index: {index!r}")
    print(
        f"build: {t2 - t0:.3f} s wall, {c2 - c0:.3f} s CPU (decompress + JSON {t1 - t0:.3f} s, parse + flatten "
        f"{t2 - t1:.3f} s)  goal <= 1 s"
    )

    entries = [e for vendor, doc in docs.items() for e in parse_feed(vendor, doc)]
    rng = random.Random(8)
    ips = random_ips(rng, entries, args.lookups)
    lookup = index.lookup
    c3, t3 = time.process_time(), time.perf_counter()
    hits = 0
    for ip in ips:
        if lookup(ip) is not None:
            hits += 1
    t4, c4 = time.perf_counter(), time.process_time()
    print(
        f"lookups: {len(ips):,} in {t4 - t3:.3f} s wall, {c4 - c3:.3f} s CPU ({(t4 - t3) / len(ips) * 1e9:.0f} ns "
        f"each, text parsing included; {hits:,} in a feed)  goal <= 3 s"
    )

    sample = rng.sample(ips, min(args.sample, len(ips)))
    agree = 0
    for ip in sample:
        address = ipaddress.ip_address(ip)
        if lookup(ip) == brute_force(entries, address.version, int(address)):
            agree += 1
    print(f"agreement with brute force: {agree}/{len(sample)}  goal: all")
    checks = (("build", t2 - t0 <= 1.0), ("lookups", t4 - t3 <= 3.0), ("agreement", agree == len(sample)))
    missed = [name for name, ok in checks if not ok]
    if missed:
        print(f"GOAL MISSED: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
