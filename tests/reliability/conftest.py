"""The reliability suite: the safety contract (README "Policies and safety", "Exit codes") driven through the real CLI
and handlers against the Cloudflare fake (traffic checked against the OpenAPI subset) and a static inventory."""

from __future__ import annotations

from tests.pipeline.conftest import cf, run_cli, write_config, zone

__all__ = ["cf", "run_cli", "write_config", "zone"]
