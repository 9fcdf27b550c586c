"""Benchmark (prints figures; not a test): AWS discovery of 20 accounts x 17 regions with 60 ms per EC2 call.

    python tests/bench/bench_discovery.py [--latency 0.06] [--accounts 20] [--skip-sequential]

The sandbox fake runs in a child process, so that its request handling does not compete with the collector for
this process's GIL (a real AWS endpoint costs the client nothing but the wait). The organization has 20 ACTIVE
accounts (the management account plus 19 members reached through ``OrganizationAccountAccessRole``), each with the 17
default regions, and per region two interfaces with public IPs plus one Elastic IP. Every EC2 call sleeps `latency`
seconds in the fake; STS and Organizations calls do not.

Figures: wall time at concurrency 32 in one process (cold, then warm), with ``discovery_processes`` 2 (32 threads
per process, then 16 per process: 32 in flight in all), at concurrency 1, and the ideal ``EC2 calls x latency / 32``
(EC2 calls of the one-process run). Goal at 32: within 1.5x of the ideal. CPU times: this process, the forked discovery
workers, and the fake (which shares the machine's cores with them).

    python tests/bench/bench_discovery.py --processes 2 --per-process 32 16
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agent.sandbox.aws import DEFAULT_REGIONS, AwsFake

ROLE = "OrganizationAccountAccessRole"
MANAGEMENT = "100000000000"


def serve(conn: Connection, accounts: int, latency: float) -> None:
    """Child process: seed and run the fake; answer `calls` / `reset` / `stop` on the pipe."""
    fake = AwsFake()
    fake.add_account(MANAGEMENT)
    fake.create_organization(MANAGEMENT)
    for n in range(accounts):
        account = f"{100000000000 + n:012d}"
        if account != MANAGEMENT:
            fake.add_account(account)
            fake.join_organization(account)
            fake.add_role(account, ROLE, trusted_accounts=[MANAGEMENT])
        for r, region in enumerate(DEFAULT_REGIONS):
            fake.add_address(account, region, f"52.{n}.{r}.1")
            fake.add_interface(account, region, public_ips=[f"52.{n}.{r}.2"], ipv6=[f"2600:1f18:{n:x}:{r:x}::2"])
            fake.add_interface(account, region, interface_type="nat_gateway", public_ips=[f"52.{n}.{r}.3"])
    fake.latency = latency
    fake.start()
    conn.send((fake.url, fake.credentials(MANAGEMENT)))
    while True:
        command = conn.recv()
        if command == "calls":
            conn.send((dict(fake.calls), time.process_time()))
        elif command == "reset":
            fake.calls.clear()
            conn.send(True)
        else:
            fake.stop()
            conn.send(True)
            return


def run(url: str, concurrency: int, processes: int = 1) -> tuple[float, int, int, float, float]:
    """One discovery through the runner: (wall seconds, records, errors, CPU here, CPU of the workers)."""
    from agent.collectors.aws.collector import AwsCollector
    from agent.collectors.runner import run_collectors

    config = {
        "endpoint_url": url,
        "sts_endpoint_url": url,
        "organizations_endpoint_url": url,
        "organization": {"member_role_name": ROLE},
        "max_attempts": 2,
    }
    started, cpu = time.perf_counter(), os.times()
    collector = AwsCollector.from_config(config)
    discovery = run_collectors([collector], concurrency=concurrency, processes=processes)
    wall = time.perf_counter() - started
    end = os.times()
    collector.close()
    for error in discovery.errors[:3]:
        print("  error:", error, file=sys.stderr)
    here = end.user + end.system - cpu.user - cpu.system
    workers = max(0.0, end.children_user + end.children_system - cpu.children_user - cpu.children_system)
    return wall, len(discovery.records), len(discovery.errors), here, workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.06)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2, help="discovery_processes to compare with one (1: skip)")
    parser.add_argument("--per-process", type=int, nargs="*", default=None, help="threads per process (default: 32 16)")
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args(argv)
    per_process = args.per_process if args.per_process is not None else [args.concurrency, args.concurrency // 2]

    os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                      AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"):
        os.environ.pop(name, None)
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs, args.accounts, args.latency))
    child.start()
    url, credentials = ours.recv()
    os.environ.update(credentials)

    def measure(concurrency: int, label: str, processes: int = 1) -> tuple[float, int]:
        ours.send("reset")
        ours.recv()
        ours.send("calls")
        _, fake_cpu = ours.recv()
        wall, records, errors, here, workers = run(url, concurrency, processes)
        ours.send("calls")
        calls: dict[tuple[str, str], int]
        calls, fake_end = ours.recv()
        ec2 = sum(n for (service, _), n in calls.items() if service == "ec2")
        other = sum(calls.values()) - ec2
        print(f"{label:<34} wall {wall:6.2f} s   records {records}   errors {errors}   "
              f"EC2 calls {ec2}   STS/Organizations calls {other}")  # fmt: skip
        print(f"{'':<34} CPU: here {here:.2f} s, workers {workers:.2f} s, fake {fake_end - fake_cpu:.2f} s")
        return wall, ec2

    missed = False
    try:
        print(f"AWS discovery: {args.accounts} accounts x {len(DEFAULT_REGIONS)} regions, "
              f"{args.latency * 1000:.0f} ms per EC2 call, fake in a child process, {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        c = args.concurrency
        cold, ec2_calls = measure(c, f"concurrency {c} (cold)")
        warm, _ = measure(c, f"concurrency {c} (warm)")
        ideal = ec2_calls * args.latency / c
        print(f"{'ideal (calls x latency / ' + str(c) + ')':<34} wall {ideal:6.2f} s")
        ratios = [f"1 process: cold {cold / ideal:.2f}x, warm {warm / ideal:.2f}x"]
        if args.processes > 1:
            for threads in per_process:
                label = f"{args.processes} processes x {threads} threads"
                wall, _ = measure(threads, label, args.processes)
                ratios.append(f"{label} ({args.processes * threads} in flight): {wall / ideal:.2f}x")
        print(f"ratio to ideal (goal <= 1.5x): {'; '.join(ratios)}")
        missed = max(cold, warm) / ideal > 1.5  # the goal is for one process at `concurrency` in flight
        if not args.skip_sequential:
            sequential, _ = measure(1, "concurrency 1 (sequential)")
            print(f"speed-up at {c}: {sequential / warm:.1f}x")
    finally:
        ours.send("stop")
        ours.recv()
        child.join(timeout=10)
    if missed:
        print(f"MISSED: 1 process at {args.concurrency} in flight is over 1.5x the ideal")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
