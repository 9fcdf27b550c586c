"""Fixtures for the deployment files: paths, rendered kustomize output, tool lookup."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHECKOV_HINT = (
    "checkov is not installed (it pins many dependencies, so it lives in its own venv): "
    "python -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov, or set CHECKOV=/path/to/checkov"
)


@pytest.fixture(scope="session")
def deploy_dir() -> Path:
    return DEPLOY


def find_tool(name: str, *candidates: str) -> str | None:
    """A tool from $<NAME> (upper case), then PATH, then well-known locations."""
    explicit = os.environ.get(name.upper().replace("-", "_"))
    if explicit and Path(explicit).exists():
        return explicit
    found = shutil.which(name)
    if found:
        return found
    return next((c for c in candidates if Path(c).exists()), None)


@pytest.fixture(scope="session")
def kubectl() -> str:
    tool = find_tool("kubectl", "/usr/bin/kubectl", "/usr/local/bin/kubectl")
    if tool is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize manifests")
    return tool


@pytest.fixture(scope="session")
def render(kubectl: str) -> Any:
    """`kubectl kustomize <dir>` → list of manifests (cached per directory)."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def _render(relative: str) -> list[dict[str, Any]]:
        if relative not in cache:
            out = subprocess.run(
                [kubectl, "kustomize", str(DEPLOY / relative)], capture_output=True, text=True, timeout=60
            )
            assert out.returncode == 0, out.stderr
            cache[relative] = [doc for doc in yaml.safe_load_all(out.stdout) if doc]
        return cache[relative]

    return _render


@pytest.fixture(scope="session")
def checkov() -> str:
    tool = find_tool("checkov", "/tmp/checkov-venv/bin/checkov")
    if tool is None:
        pytest.skip(CHECKOV_HINT)
    return tool
