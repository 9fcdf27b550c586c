"""`origin-region-agent doctor`: check, without writing anything, everything a run needs."""

from agent.doctor.checks import Check, Status, run_checks

__all__ = ["Check", "Status", "run_checks"]
