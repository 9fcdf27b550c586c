"""Benchmark (prints figures; not a test): Azure discovery of 500 subscriptions holding 20,000 public IPs, 60 ms per
API call, in Resource Graph mode and in per-subscription mode, in one run.

    python tests/bench/bench_engine_azure.py [--subscriptions 500] [--addresses 20000] [--latency 0.06]

The HTTPS fake (ARM, AAD and Resource Graph) runs in a child process so that its request handling does not compete
with the collector for this process's GIL. Every ARM and Resource Graph call sleeps `latency` in the fake (token
requests do not). Resource Graph's per-user quota is on, as in Azure: 15 queries per 5 s window. Both modes run the
product's code path (`run_collectors` over `AzureCollector`, default concurrency 16) and must find the same records.

Goals (engine mode): API calls <= ceil(addresses / 1000) + 5, wall <= 10 s. Per-subscription mode is reported beside
it, measured in full (no extrapolation). Exits 1 when a goal is missed or the two inventories differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TENANT = "72f988bf-0000-4000-8000-0000000be0c4"
CLIENT_ID = "0be0c400-0000-4000-8000-00000000c11e"
SECRET = "bench-secret-not-real"
REGIONS = ("eastus", "westeurope", "japaneast", "westus2", "uksouth", "australiaeast", "brazilsouth", "centralindia")
PAGE_SIZE = 1000


def serve(conn: Connection, subscriptions: int, addresses: int, latency: float, ca_dir: str) -> None:
    """Child process: seed and run the fake; answer `calls` / `reset` / `stop` on the pipe."""
    from agent.sandbox.azure import READER, FakeAzure, PublicIpSpec
    from agent.sandbox.tls import LocalCA

    ca = LocalCA.create()
    ca_path = ca.write_ca_bundle(Path(ca_dir) / "ca.pem")
    fake = FakeAzure(ca.server_context("127.0.0.1", "localhost"), page_size=100, latency=latency)
    fake.add_service_principal(TENANT, CLIENT_ID, secret=SECRET)
    subs = [f"00000000-0000-4000-8000-{n:012d}" for n in range(subscriptions)]
    for sub in subs:
        fake.add_subscription(sub, tenant_id=TENANT, readers={CLIENT_ID: READER})
    for n in range(addresses):
        sub = subs[n % subscriptions]
        tier = "Global" if n % 200 == 0 else "Regional"
        ip = f"20.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        fake.add_public_ip(sub, PublicIpSpec(f"ip{n}", REGIONS[n % len(REGIONS)], ip, sku="Standard", tier=tier))
    conn.send((fake.url, str(ca_path)))
    while True:
        command = conn.recv()
        if command == "calls":
            arm = [r.path for r in fake.requests if "/oauth2/" not in r.path and "openid" not in r.path]
            conn.send(arm)
        elif command == "reset":
            with fake._lock:
                fake.requests.clear()
            conn.send(None)
        else:
            fake.close()
            conn.send(None)
            return


def run(mode: str, url: str, ca_path: str) -> tuple[float, list, list, float]:
    from agent.collectors.azure.collector import AzureCollector
    from agent.collectors.runner import run_collectors

    config = {
        "mode": mode,
        "auth": "service_principal",
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "arm_endpoint": url,
        "authority_host": url,
        "disable_instance_discovery": True,
        "ca_bundle": ca_path,
        "resource_graph_page_size": PAGE_SIZE,
    }
    collector = AzureCollector.from_config(config)
    started = time.perf_counter()
    discovery = run_collectors([collector])
    wall = time.perf_counter() - started
    collector.close()
    return wall, discovery.records, discovery.errors, collector.engine_quota_waited


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=500)
    parser.add_argument("--addresses", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.06)
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "AZURE_CLIENT_SECRET"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    os.environ["AZURE_CLIENT_SECRET"] = SECRET

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    with tempfile.TemporaryDirectory(prefix="bench-azure-") as ca_dir:
        server = context.Process(
            target=serve, args=(child, args.subscriptions, args.addresses, args.latency, ca_dir), daemon=True
        )
        server.start()
        url, ca_path = parent.recv()
        figures = {}
        for mode in ("resource_graph", "subscriptions"):
            parent.send("reset")
            parent.recv()
            wall, records, errors, waited = run(mode, url, ca_path)
            parent.send("calls")
            calls = parent.recv()
            figures[mode] = (wall, len(calls), records, errors, waited)
        parent.send("stop")
        parent.recv()
        server.join(timeout=10)

    engine_wall, engine_calls, engine_records, engine_errors, engine_waited = figures["resource_graph"]
    sub_wall, sub_calls, sub_records, sub_errors, _ = figures["subscriptions"]
    call_goal = math.ceil(args.addresses / PAGE_SIZE) + 5
    same = {dataclasses.replace(r, observed_at=None) for r in engine_records} == set(sub_records)
    print(f"Azure: {args.subscriptions} subscriptions, {args.addresses} public IPs, {args.latency * 1000:.0f} ms/call")
    print(
        f"  resource_graph mode: {engine_calls} API calls (goal <= {call_goal}), "
        f"{engine_wall:.2f} s wall (goal <= 10 s)"
    )
    print(f"    of which waiting for the Resource Graph quota (15 queries / 5 s) to reset: {engine_waited:.2f} s")
    print(f"  subscriptions mode:  {sub_calls} API calls, {sub_wall:.2f} s wall (concurrency 16; no goal)")
    print(f"  records: engine {len(engine_records)}, per-subscription {len(sub_records)}, identical: {same}")
    problems = []
    if engine_errors or sub_errors:
        problems.append(f"scope errors: {engine_errors + sub_errors}")
    if not same or len(engine_records) != args.addresses:
        problems.append("the two modes disagree, or records are missing")
    if engine_calls > call_goal:
        problems.append(f"MISSED: engine calls {engine_calls} > {call_goal}")
    if engine_wall > 10:
        problems.append(f"MISSED: engine wall {engine_wall:.2f} s > 10 s")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
