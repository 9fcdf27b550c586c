"""Installable from this checkout: the wheel builds, installs non-editable into a fresh venv and runs `demo` from
outside the checkout; every serverless requirements.txt names that wheel; the version has one source.

The venv uses --system-site-packages so the dependencies (already installed here) need no network; the wheel itself
is installed with --no-deps --no-index, and the test checks that `agent` then comes from the venv, not the checkout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from agent import __version__

ROOT = Path(__file__).resolve().parents[2]
CLOUDS = ("aws", "azure", "oci")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built the way deploy/package.sh builds it."""
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env=clean_env(),
    )
    (built,) = out.glob("origin_region_agent-*.whl")
    return built


def test_version_has_one_source(wheel):
    """agent/VERSION → the package metadata, agent.__version__, the wheel name, the image tags."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert __version__ == (ROOT / "agent" / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert wheel.name == f"origin_region_agent-{__version__}-py3-none-any.whl"
    kustomization = (ROOT / "deploy" / "kubernetes" / "base" / "kustomization.yaml").read_text()
    assert f"newTag: {__version__}-" in kustomization


@pytest.mark.parametrize("cloud", CLOUDS)
def test_requirements_name_the_wheel_built_from_the_checkout(wheel, cloud):
    """No package-index name (no release exists there): the local wheel, with the cloud's extra."""
    lines = [
        line.strip()
        for line in (ROOT / "deploy" / cloud / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert f"./wheels/{wheel.name}[{cloud}]" in lines
    assert not any(line.startswith("origin-region-agent") for line in lines)


def test_package_script_refuses_an_unknown_cloud():
    out = subprocess.run(["bash", str(ROOT / "deploy" / "package.sh"), "mars"], capture_output=True, text=True)
    assert out.returncode == 2 and "no function folder" in out.stderr


def test_wheel_installs_into_a_fresh_venv_and_runs_demo_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
        env=clean_env(),
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [python, "-c", "import agent; print(agent.__file__); print(agent.__version__)"],
        cwd=elsewhere, capture_output=True, text=True, check=True, env=clean_env(),
    )  # fmt: skip
    path, version = where.stdout.split()
    assert Path(path).is_relative_to(env_dir) and version == __version__  # the wheel's copy, not the checkout
    cli = env_dir / "bin" / "origin-region-agent"
    out = subprocess.run(
        [cli, "demo", "--output", "json"], cwd=elsewhere, capture_output=True, text=True, timeout=120, env=clean_env()
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["summary"]["exit_code"] == 0
    assert report["summary"]["totals"]["created"] > 0
    version_out = subprocess.run([cli, "--version"], capture_output=True, text=True, env=clean_env(), cwd=elsewhere)
    assert __version__ in version_out.stdout
