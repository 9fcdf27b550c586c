"""The handlers' error answers come from the one summary function: the schema-1 document of every run."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.handlers.common import error_summary
from agent.report.summary import RunOutcome, summarize


def test_error_answer_is_a_schema_1_summary() -> None:
    answer = error_summary("zones: no zone named 'x'", exit_code=2, started_at="2026-12-01T10:00:00Z")
    normal = summarize(RunOutcome(started_at=datetime(2026, 12, 1, tzinfo=UTC), dry_run=False, policy="create-only"))
    assert set(answer) == set(normal) | {"error"}  # the same fields, plus the one-line `error`
    assert answer["version"] == 1 and answer["exit_code"] == 2
    assert answer["errors"] == ["zones: no zone named 'x'"] == [answer["error"]]
    assert answer["started_at"] == "2026-12-01T10:00:00Z"
    assert answer["dry_run"] is None and answer["policy"] is None and answer["zones"] == []
    assert answer["discovery"]["complete"] is False and answer["guard"]["refused"] is False
