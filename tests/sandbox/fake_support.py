"""Constants shared by the sandbox Cloudflare fake tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from pathlib import Path

# Distinctive secrets, so the leak test can search every recorded text for them.
TOKEN = "cf-test-token_7Hq2"
EMAIL = "ops@example.com"
GLOBAL_KEY = "0123456789abcdef0123456789abcdef01234"
SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "cloudflare-openapi-subset.json"
