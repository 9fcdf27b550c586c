"""Shared names of the GCP collector tests (a uniquely named module: every test folder has its own conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from agent.collectors.gcp.collector import GcpCollector

SA_EMAIL = "collector@ops-proj.iam.gserviceaccount.com"

MakeCollector = Callable[..., GcpCollector]
"""The `make_collector` fixture: keyword arguments override `inventory.gcp` keys (plus ``credentials=``)."""
