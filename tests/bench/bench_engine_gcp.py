"""Benchmark (prints figures; not a test): GCP discovery of an organization of 2,000 projects holding 10,000 external
addresses, 60 ms per API call, in Cloud Asset Inventory mode and in per-project mode, in one run.

    python tests/bench/bench_engine_gcp.py [--projects 2000] [--addresses 10000] [--latency 0.06] [--sample 200]

The fake (Compute, Resource Manager and Cloud Asset) runs in a child process so that its request handling does not
compete with the collector for this process's GIL; every API call sleeps `latency` in the fake. Credentials are
anonymous (no token minting in the figures). Both modes run the product's code path (`run_collectors` over
`GcpCollector`, default concurrency).

Engine mode lists the whole organization. Per-project mode is measured on `--sample` projects given explicitly (5
Compute calls each) and extrapolated linearly to all projects, plus the Resource Manager walk of the organization
(ceil(projects / 500) + 1 calls); both are printed as such. The two modes must agree on the sampled projects.

Goals (engine mode): API calls <= ceil(addresses / 1000) + 5, wall <= 10 s. Exits 1 when a goal is missed or the
inventories differ.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

ORG = "organizations/555000555"
REGIONS = ("us-central1", "us-east1", "europe-west1", "asia-east1", "europe-west4", "asia-northeast1")
PAGE_SIZE = 1000


def project_id(n: int) -> str:
    return f"bench-proj-{n:05d}"


def serve(conn: Connection, projects: int, addresses: int, latency: float) -> None:
    """Child process: seed and run the fake; answer `calls` / `reset` / `stop` on the pipe."""
    from agent.sandbox.gcp import FakeGcp

    fake = FakeGcp(regions=REGIONS, require_auth=False, latency=latency).start()
    fake.add_organization(ORG)
    for n in range(projects):
        fake.add_project(project_id(n), parent=ORG)
    for n in range(addresses):
        project = project_id(n % projects)
        region = REGIONS[n % len(REGIONS)]
        ip = f"34.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        kind = n % 4
        if kind == 0:
            fake.add_address(project, f"ip{n}", ip, region=None if n % 100 == 0 else region)
        elif kind == 1:
            fake.add_instance(project, f"vm{n}", zone=f"{region}-b", nat_ips=(ip,))
        elif kind == 2:
            fake.add_forwarding_rule(project, f"fr{n}", ip, region=None if n % 100 == 2 else region)
        else:
            fake.add_address(project, f"ip{n}", ip, region=region, status="RESERVED")
    conn.send(fake.endpoint)
    while True:
        command = conn.recv()
        if command == "calls":
            conn.send([c.path for c in fake.calls])
        elif command == "reset":
            with fake._lock:
                fake.calls.clear()
            conn.send(None)
        else:
            fake.stop()
            conn.send(None)
            return


def run(settings: dict[str, object]) -> tuple[float, list, list]:
    from google.auth.credentials import AnonymousCredentials

    from agent.collectors.gcp.collector import GcpCollector
    from agent.collectors.gcp.config import GcpConfig
    from agent.collectors.runner import run_collectors

    collector = GcpCollector(GcpConfig.model_validate(settings), credentials=AnonymousCredentials())
    started = time.perf_counter()
    discovery = run_collectors([collector])
    wall = time.perf_counter() - started
    collector.close()
    return wall, discovery.records, discovery.errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.06)
    parser.add_argument("--sample", type=int, default=200, help="projects measured in per-project mode")
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "GOOGLE_APPLICATION_CREDENTIALS"):
        os.environ.pop(name, None)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    os.environ["GCE_METADATA_HOST"] = os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
    sample = min(args.sample, args.projects)

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    server = context.Process(target=serve, args=(child, args.projects, args.addresses, args.latency), daemon=True)
    server.start()
    endpoint = parent.recv()
    base = {"compute_endpoint": endpoint, "resource_manager_endpoint": endpoint, "asset_endpoint": endpoint}
    modes = {
        "asset_inventory": {**base, "mode": "asset_inventory", "scope": ORG, "asset_page_size": PAGE_SIZE},
        "projects": {**base, "projects": [project_id(n) for n in range(sample)]},
    }
    figures = {}
    for mode, settings in modes.items():
        parent.send("reset")
        parent.recv()
        wall, records, errors = run(settings)
        parent.send("calls")
        figures[mode] = (wall, len(parent.recv()), records, errors)
    parent.send("stop")
    parent.recv()
    server.join(timeout=10)

    engine_wall, engine_calls, engine_records, engine_errors = figures["asset_inventory"]
    sample_wall, sample_calls, sample_records, sample_errors = figures["projects"]
    scale = args.projects / sample
    walk_calls = math.ceil(args.projects / 500) + 1  # projects.list pages + folders.list under the organization
    per_project_calls = round(sample_calls * scale) + walk_calls
    per_project_wall = sample_wall * scale + walk_calls * args.latency
    sampled = {project_id(n) for n in range(sample)}
    engine_sampled = {dataclasses.replace(r, observed_at=None) for r in engine_records if r.account in sampled}
    same = engine_sampled == set(sample_records)
    call_goal = math.ceil(args.addresses / PAGE_SIZE) + 5
    print(f"GCP: {args.projects} projects, {args.addresses} external addresses, {args.latency * 1000:.0f} ms/call")
    print(
        f"  asset_inventory mode: {engine_calls} API calls (goal <= {call_goal}), "
        f"{engine_wall:.2f} s wall (goal <= 10 s), {len(engine_records)} records"
    )
    print(
        f"  projects mode: measured on {sample} projects: {sample_calls} calls, {sample_wall:.2f} s; "
        f"extrapolated to {args.projects}: ~{per_project_calls} calls, ~{per_project_wall:.0f} s wall (no goal)"
    )
    print(
        f"  records on the sampled projects: engine {len(engine_sampled)}, per-project {len(sample_records)}, "
        f"identical: {same}"
    )
    problems = []
    if engine_errors or sample_errors:
        problems.append(f"scope errors: {engine_errors + sample_errors}")
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
