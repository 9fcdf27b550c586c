"""Cold start: a run for one cloud imports no other cloud's SDK, and `--help` imports no SDK and no heavy module.

Each check runs in a fresh interpreter (subprocess), because this test process has every SDK loaded already.
Bare namespace packages (``google``, ``google.cloud``) are not counted: a ``*-nspkg.pth`` file of an installed
package imports them at interpreter start-up, before any of our code runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# module prefixes that betray each cloud's SDK
SDK_MODULES = {
    "aws": ("boto3", "botocore"),
    "gcp": ("google.cloud.compute_v1", "google.cloud.resourcemanager", "google.auth", "google.api_core", "grpc"),
    "azure": ("azure.mgmt", "azure.identity", "azure.core"),
    "oci": ("oci",),
}
HEAVY_MODULES = ("httpx", "pydantic", "yaml", "prometheus_client", "dns", "tenacity", "agent.pipeline", "agent.config")

PROBE = textwrap.dedent(
    """
    import json, sys
    def loaded(prefixes):
        return sorted({p for p in prefixes for m in sys.modules if m == p or m.startswith(p + ".")})
    """
)


def run_probe(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE + textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def oci_files(tmp_path: Path) -> Path:
    """A real-looking ~/.oci/config with a generated API key (the OCI signer reads it when the client is built)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "oci_api_key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    config = tmp_path / "oci-config"
    config.write_text(
        "[DEFAULT]\nuser=ocid1.user.oc1..aaaa\nfingerprint=aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99\n"
        f"key_file={pem}\ntenancy=ocid1.tenancy.oc1..bbbb\nregion=us-ashburn-1\n"
    )
    return config


@pytest.fixture
def hermetic_env(tmp_path: Path) -> dict[str, str]:
    """No real credentials or config files; fake AWS keys so botocore never looks for IMDS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "GOOGLE_", "OCI_", "CLOUDSDK_"))}
    env.update(
        HOME=str(tmp_path),
        CLOUDFLARE_API_TOKEN="x" * 40,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
        # never probe a metadata server: nothing may leave 127.0.0.1
        NO_GCE_CHECK="True",
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
    )
    return env


def section(cloud: str, tmp_path: Path) -> str:
    if cloud == "oci":
        return f"{{oci: {{auth: config_file, config_file: {oci_files(tmp_path)}, profile: DEFAULT}}}}"
    if cloud == "gcp":
        return "{gcp: {projects: [demo-project]}}"
    return f"{{{cloud}: {{}}}}"


@pytest.mark.parametrize("cloud", sorted(SDK_MODULES))
def test_one_cloud_run_imports_no_other_cloud_sdk(cloud, tmp_path, hermetic_env):
    """Loading a one-cloud config and building its collectors loads that SDK only (it must load that one)."""
    config = tmp_path / "config.yaml"
    config.write_text(f"zones: [{{name: example.com}}]\ninventory: {section(cloud, tmp_path)}\n")
    others = [p for other, prefixes in SDK_MODULES.items() if other != cloud for p in prefixes]
    result = run_probe(
        f"""
        from agent.config import load_config
        from agent.pipeline import build_collectors
        collectors = build_collectors(load_config({str(config)!r}))
        print(json.dumps({{"collectors": [type(c).__name__ for c in collectors],
                          "own": loaded({list(SDK_MODULES[cloud])!r}), "others": loaded({others!r})}}))
        """,
        hermetic_env,
    )
    assert len(result["collectors"]) == 1
    assert result["own"], f"the {cloud} collector was built without its SDK?"
    assert result["others"] == []


def test_static_and_ranges_runs_import_no_cloud_sdk(tmp_path, hermetic_env):
    """The credential-free sources (static files, IP-range feeds) import no cloud SDK at all."""
    inventory = tmp_path / "inv.csv"
    inventory.write_text("ip,vendor,region\n192.0.2.1,aws,us-east-1\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"zones: [{{name: example.com}}]\ninventory: {{static: {{path: {inventory}}}, ranges: {{}}}}\n")
    every = [p for prefixes in SDK_MODULES.values() for p in prefixes]
    result = run_probe(
        f"""
        from agent.config import load_config
        from agent.pipeline import build_collectors
        collectors = build_collectors(load_config({str(config)!r}))
        print(json.dumps({{"n": len(collectors), "sdks": loaded({every!r})}}))
        """,
        hermetic_env,
    )
    assert result == {"n": 2, "sdks": []}


def test_help_imports_no_sdk_and_no_heavy_module(hermetic_env):
    """`origin-region-agent --help` imports no cloud SDK, and none of httpx, pydantic, yaml, the pipeline..."""
    every = [p for prefixes in SDK_MODULES.values() for p in prefixes]
    result = run_probe(
        f"""
        import contextlib, io
        from agent.cli import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                main(["--help"])
            except SystemExit as exc:
                code = exc.code
        print(json.dumps({{"code": code, "usage": "Usage" in out.getvalue(),
                          "sdks": loaded({every!r}), "heavy": loaded({list(HEAVY_MODULES)!r})}}))
        """,
        hermetic_env,
    )
    assert result == {"code": 0, "usage": True, "sdks": [], "heavy": []}


def test_handler_modules_import_no_sdk(hermetic_env):
    """Importing a serverless handler module (the platform does it at cold start) loads no SDK and no pipeline."""
    every = [p for prefixes in SDK_MODULES.values() for p in prefixes]
    result = run_probe(
        f"""
        import agent.handlers.aws_lambda, agent.handlers.gcp, agent.handlers.azure, agent.handlers.oci
        print(json.dumps({{"sdks": loaded({every!r}), "pipeline": loaded(["agent.pipeline", "httpx"])}}))
        """,
        hermetic_env,
    )
    assert result == {"sdks": [], "pipeline": []}
