"""Cold-start benchmark: `origin-region-agent --help` wall time (best of N) and the slowest imports.

    python tests/bench/bench_coldstart.py [-n 15] [--top 15] [--sdks]

Goal: `--help` within 150 ms. The console script next to the running interpreter is timed directly (a pyenv or
asdf shim in front of it adds 100-250 ms of shell start-up that users of a plain install do not pay). `--sdks` also
times the import of each cloud SDK, i.e. what a run for that cloud adds to its cold start.
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

GOAL_MS = 150.0
SDK_IMPORTS = {
    "aws": "import boto3",
    "gcp": "import google.cloud.compute_v1",
    "azure": "import azure.mgmt.network, azure.identity",
    "oci": "import oci",
}


def console_script() -> list[str]:
    """The `origin-region-agent` executable of this interpreter's environment (no shim), else `python -m agent`."""
    candidate = Path(sys.executable).parent / "origin-region-agent"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("origin-region-agent")
    return [found] if found else [sys.executable, "-m", "agent"]


def best_of(cmd: list[str], runs: int) -> float:
    """Best wall time in milliseconds over `runs` runs (best-of filters out scheduler noise)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def import_times(code: str, top: int) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of the slowest imports of `code`, from `python -X importtime`."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    rows = []
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), int(match.group(1)), match.group(3).count(" ") // 2, match.group(4)))
    rows.sort(reverse=True)
    return [(cum, own, f"{'  ' * depth}{name}") for cum, own, depth, name in rows[:top]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=15)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sdks", action="store_true", help="also time each cloud SDK import")
    args = parser.parse_args()

    baseline = best_of([sys.executable, "-c", "pass"], args.runs)
    cli = console_script()
    help_ms = best_of([*cli, "--help"], args.runs)
    print(f"python -c pass              best of {args.runs}: {baseline:7.1f} ms")
    print(f"{' '.join(Path(c).name for c in cli)} --help  best of {args.runs}: {help_ms:7.1f} ms", end="")
    verdict = "OK" if help_ms <= GOAL_MS else "OVER"
    print(f"   (goal {GOAL_MS:.0f} ms: {verdict}; the agent's own share ~{help_ms - baseline:.0f} ms)")
    print(f"\nslowest imports of the CLI (`import agent.cli`), top {args.top}:")
    print(f"{'cumulative':>12} {'self':>10}  module")
    for cum, own, name in import_times("import agent.cli", args.top):
        print(f"{cum / 1000:10.1f}ms {own / 1000:8.1f}ms  {name}")
    if args.sdks:
        print("\ncloud SDK import time (what a run for that cloud adds to a cold start):")
        for cloud, code in SDK_IMPORTS.items():
            ms = best_of([sys.executable, "-c", code], max(1, args.runs // 5))
            print(f"  {cloud:6} {ms - baseline:8.1f} ms  ({code})")
    return 0 if help_ms <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
