"""What each cloud fake hands the `demo` command: a running fake plus the config and environment to reach it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["DemoCloud"]


@dataclass
class DemoCloud:
    """A started cloud fake, seeded with sample addresses, ready for one demo run.

    `config` is the ``inventory.<source>`` section (plain dict, as it would be read from YAML) that points the
    collector at the fake; `env` holds environment variables the run needs (fake credentials, CA bundle, endpoint
    variables); `origin_ips` are public IPs the fake reports, which the demo publishes as proxied DNS records of its
    sample zone so they match. `expected_regions` is what a correct run maps them to (end-to-end tests assert it).
    """

    source: str
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    origin_ips: list[str] = field(default_factory=list)
    expected_regions: dict[str, str] = field(default_factory=dict)  # canonical ip -> region the agent should map
    fake: Any = field(default=None, repr=False)  # the fake object itself, for tests that change its state
