"""Planning: the pure diff between current and desired mappings under a named policy."""

from agent.plan.plan import Change, Plan, calculate
from agent.plan.policy import POLICIES, Policy

__all__ = ["POLICIES", "Change", "Plan", "Policy", "calculate"]
