"""Shared constants and helpers of the Azure collector tests (imported by conftest and the test modules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.collectors.azure.collector import AzureCollector
from agent.errors import CollectorError
from agent.models import CloudAddress, Scope

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
SECRET = "s3cr3t-Value~that.must-never-leak"
SUB_A = "00000000-0000-4000-8000-00000000000a"
SUB_B = "00000000-0000-4000-8000-00000000000b"
SUB_C = "00000000-0000-4000-8000-00000000000c"
DATA = Path(__file__).resolve().parents[2] / "data" / "azure"


@dataclass
class Run:
    """What collecting every scope produced; failures isolated per scope like the runner does."""

    records: list[CloudAddress] = field(default_factory=list)
    errors: dict[str, CollectorError] = field(default_factory=dict)
    leaves: list[Scope] = field(default_factory=list)

    def regions(self) -> dict[str, str]:
        return {r.ip: r.region for r in self.records}


def run_all(collector: AzureCollector) -> Run:
    """Collect every scope depth-first, the way the runner will (minus threads)."""
    run = Run()
    todo = list(collector.scopes())
    while todo:
        scope = todo.pop(0)
        if scope.leaf:
            run.leaves.append(scope)
        try:
            for item in collector.collect(scope):
                if isinstance(item, Scope):
                    todo.append(item)
                else:
                    run.records.append(item)
        except CollectorError as exc:
            run.errors[scope.label] = exc
    return run
