"""Benchmark (prints figures; not a test): AWS discovery of a 1,000-account organization, engine vs per-account mode.

    python tests/bench/bench_engine_aws.py [--accounts 1000] [--ips 5000] [--latency 0.06] [--sample 50]

One seeded organization (1,000 ACTIVE accounts x the 17 default regions, 5,000 public IPs, skewed towards a few
regions as real estates are) in the sandbox AWS fake, run in a child process so that its request handling does not
compete with the collector for this process's GIL. Every EC2 and Config call sleeps `latency` in the fake (STS and
Organizations calls do not, which flatters per-account mode). The IPs: 30% Elastic IPs on instance interfaces (two
rows each in Config: the EIP and the interface), 10% unassociated Elastic IPs, 40% ephemeral interface IPv4, 20%
IPv6-only interfaces.

* Engine mode (``mode: config_aggregator``): the whole organization through the AWS Config aggregator of the
  management account, through the runner at concurrency 32. Goals: API calls <= ceil(rows / 100) + 5 and wall <= 10 s.
* Per-account mode: `--sample` accounts (every region) are measured through the same runner at concurrency 32 and
  extrapolated linearly to the organization: calls x (accounts / sample) plus the Organizations listing
  (ceil(accounts / 20) pages), wall x (accounts / sample). Both modes must find the same addresses in the sample.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.sandbox.aws import DEFAULT_REGIONS, AwsFake

ROLE = "OrganizationAccountAccessRole"
MANAGEMENT = "100000000000"
AGGREGATOR = "org-agg"
SEED = 16
REGION_WEIGHTS = [8 if r in ("us-east-1", "eu-west-1") else 4 if r.startswith("us-") else 1 for r in DEFAULT_REGIONS]


def account_id(n: int) -> str:
    return f"{100000000000 + n:012d}"


def seed(fake: AwsFake, accounts: int, ips: int) -> int:
    """Seed the organization; return the number of configuration-item rows the engine will page through."""
    rng = random.Random(SEED)
    fake.add_account(MANAGEMENT)
    fake.create_organization(MANAGEMENT)
    for n in range(1, accounts):
        fake.add_account(account_id(n))
        fake.join_organization(account_id(n))
        fake.add_role(account_id(n), ROLE, trusted_accounts=[MANAGEMENT])
    rows = 0
    for i in range(ips):
        account = account_id(rng.randrange(accounts))
        region = rng.choices(DEFAULT_REGIONS, REGION_WEIGHTS)[0]
        v4 = f"{3 + i // 65536}.{(i // 256) % 256}.{i % 256}.{1 + i % 250}"
        share = i % 10
        if share < 3:  # an Elastic IP on an instance: an EIP row and an interface row
            eni, instance, alloc = f"eni-{i:017x}", f"i-{i:017x}", f"eipalloc-{i:017x}"
            fake.add_address(account, region, v4, allocation_id=alloc, network_interface_id=eni, instance_id=instance,
                             private_ip="10.0.0.1")  # fmt: skip
            fake.add_interface(account, region, id=eni, instance_id=instance, public_ips=[v4],
                               allocation_ids={v4: alloc})  # fmt: skip
            rows += 2
        elif share < 4:
            fake.add_address(account, region, v4)
            rows += 1
        elif share < 8:
            fake.add_interface(account, region, interface_type="nat_gateway", public_ips=[v4])
            rows += 1
        else:
            fake.add_interface(account, region, ipv6=[f"2600:1f18:{i // 65536:x}:{i % 65536:x}::1"])
            rows += 1
    fake.add_aggregator(AGGREGATOR, MANAGEMENT, "us-east-1")
    return rows


def serve(conn: Connection, accounts: int, ips: int, latency: float) -> None:
    """Child process: seed and run the fake; answer `calls` / `reset` / `stop` on the pipe."""
    fake = AwsFake()
    rows = seed(fake, accounts, ips)
    fake.latency = latency
    fake.start()
    conn.send((fake.url, fake.credentials(MANAGEMENT), rows))
    while True:
        command = conn.recv()
        if command == "calls":
            conn.send(dict(fake.calls))
        elif command == "reset":
            fake.calls.clear()
            conn.send(True)
        else:
            fake.stop()
            conn.send(True)
            return


def discover(config: dict[str, object]) -> tuple[float, set[tuple[str, str, str]], int]:
    """One discovery through the runner at 32 in flight: (wall seconds, (ip, region, account) set, errors)."""
    from agent.collectors.aws.collector import AwsCollector
    from agent.collectors.runner import run_collectors

    started = time.perf_counter()
    collector = AwsCollector.from_config(config)
    discovery = run_collectors([collector], concurrency=32)
    wall = time.perf_counter() - started
    collector.close()
    for error in discovery.errors[:3]:
        print("  error:", error, file=sys.stderr)
    return wall, {(r.ip, r.region, r.account) for r in discovery.records}, len(discovery.errors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--ips", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.06)
    parser.add_argument("--sample", type=int, default=50, help="accounts measured in per-account mode")
    args = parser.parse_args(argv)

    os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                      AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"):
        os.environ.pop(name, None)
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(
        target=serve, args=(theirs, args.accounts, args.ips, args.latency)
    )
    child.start()
    url, credentials, rows = ours.recv()
    os.environ.update(credentials)
    common = {"endpoint_url": url, "sts_endpoint_url": url, "organizations_endpoint_url": url, "max_attempts": 2}

    def calls() -> dict[tuple[str, str], int]:
        ours.send("calls")
        counted: dict[tuple[str, str], int] = ours.recv()
        ours.send("reset")
        ours.recv()
        return counted

    missed: list[str] = []
    try:
        print(f"AWS organization: {args.accounts} accounts x {len(DEFAULT_REGIONS)} regions, {args.ips} public IPs "
              f"({rows} Config rows), {args.latency * 1000:.0f} ms per EC2/Config call, 32 in flight, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        calls()
        engine_config = {**common, "mode": "config_aggregator", "aggregator_name": AGGREGATOR,
                         "config_endpoint_url": url}  # fmt: skip
        wall, found, errors = discover(engine_config)
        engine_calls = sum(calls().values())
        bound = math.ceil(rows / 100) + 5
        print(f"engine mode        calls {engine_calls:>7} (goal <= ceil({rows}/100)+5 = {bound})   "
              f"wall {wall:7.2f} s (goal <= 10 s)   addresses {len(found)}   errors {errors}")  # fmt: skip
        if engine_calls > bound:
            missed.append(f"engine calls {engine_calls} > {bound}")
        if wall > 10:
            missed.append(f"engine wall {wall:.2f} s > 10 s")
        if errors or len(found) != args.ips:
            missed.append(f"engine mode found {len(found)} of {args.ips} addresses with {errors} errors")

        sample = [account_id(n) for n in range(1, args.sample + 1)]
        per_account_config = {
            **common,
            "accounts": [{"role_arn": f"arn:aws:iam::{a}:role/{ROLE}"} for a in sample],
        }
        sample_wall, sample_found, sample_errors = discover(per_account_config)
        sample_calls = sum(calls().values())
        scale = args.accounts / args.sample
        listing = math.ceil(args.accounts / 20)
        print(f"per-account sample calls {sample_calls:>7}   wall {sample_wall:7.2f} s   ({args.sample} accounts, "
              f"{args.sample * len(DEFAULT_REGIONS)} account x region scopes, errors {sample_errors})")  # fmt: skip
        extrapolated = round(sample_calls * scale) + listing
        print(f"per-account mode   calls {extrapolated:>7} (extrapolated: x{scale:g} + {listing} ListAccounts "
              f"pages)   wall {sample_wall * scale:7.2f} s (extrapolated x{scale:g})")  # fmt: skip
        in_sample = {f for f in found if f[2] in set(sample)}
        if sample_found != in_sample:
            missed.append(f"modes disagree on the sample: {len(sample_found ^ in_sample)} addresses differ")
        print(f"same addresses in the sample accounts in both modes: {sample_found == in_sample} "
              f"({len(in_sample)} addresses)")  # fmt: skip
    finally:
        ours.send("stop")
        ours.recv()
        child.join(timeout=10)
    for miss in missed:
        print(f"MISSED: {miss}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
