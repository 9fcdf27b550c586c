"""The `init` command: detects laptop credentials from files in a fake HOME and writes a secret-free starter config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from agent.init_cmd import detect, init_command, render_config

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CF_TOKEN = "cf-token-value-that-must-not-leak-0123456789"
OCI_FINGERPRINT = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99"
GCP_REFRESH = "1//refresh-token-must-not-leak"


def clean_env(home: Path) -> dict[str, str]:
    """An environment with only HOME and PATH: nothing of the real machine leaks into detection."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin"}


def populate(home: Path) -> None:
    """The files a laptop with all four CLIs logged in typically has."""
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text(
        "[default]\nregion = eu-west-1\n\n[profile prod]\nrole_arn = arn:aws:iam::111122223333:role/Reader\n"
        "source_profile = default\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
    )
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {AWS_SECRET}\n"
    )
    gcloud = home / ".config" / "gcloud"
    (gcloud / "configurations").mkdir(parents=True)
    (gcloud / "application_default_credentials.json").write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "x.apps.googleusercontent.com",
                "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
                "refresh_token": GCP_REFRESH,
                "quota_project_id": "my-quota-project",
            }
        )
    )
    (gcloud / "active_config").write_text("work\n")
    (gcloud / "configurations" / "config_work").write_text("[core]\nproject = web-prod-123\naccount = me@example.com\n")
    (home / ".azure").mkdir()
    profile = {
        "installationId": "x",
        "subscriptions": [
            {
                "id": "00000000-0000-0000-0000-00000000000a",
                "name": "Prod",
                "state": "Enabled",
                "isDefault": True,
                "tenantId": "11111111-1111-1111-1111-111111111111",
                "user": {"name": "me@example.com", "type": "user"},
            },
            {
                "id": "00000000-0000-0000-0000-00000000000b",
                "name": "Old",
                "state": "Disabled",
                "isDefault": False,
                "tenantId": "11111111-1111-1111-1111-111111111111",
            },
        ],
    }
    # The Azure CLI writes azureProfile.json with a byte order mark.
    (home / ".azure" / "azureProfile.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(profile).encode())
    (home / ".oci").mkdir()
    (home / ".oci" / "config").write_text(
        "[DEFAULT]\nuser=ocid1.user.oc1..aaaa\n"
        f"fingerprint={OCI_FINGERPRINT}\nkey_file=~/.oci/oci_api_key.pem\n"
        "tenancy=ocid1.tenancy.oc1..bbbb\nregion=eu-frankfurt-1\npass_phrase=hunter2hunter2\n\n"
        "[OTHER]\nregion=us-ashburn-1\n"
    )


def test_detects_all_four_clouds_from_files(tmp_path):
    """Profiles, projects, enabled subscriptions and the OCI tenancy are found from the usual files."""
    populate(tmp_path)
    env = clean_env(tmp_path) | {"CLOUDFLARE_API_TOKEN": CF_TOKEN}
    found = {f.source: f for f in detect(env)}
    assert set(found) == {"aws", "gcp", "azure", "oci", "cloudflare"}
    assert found["aws"].names == ("default", "prod")  # the sso-session block is not a profile
    assert found["gcp"].names[0] == "web-prod-123"  # the active gcloud configuration's project first
    assert "my-quota-project" in found["gcp"].names
    assert found["azure"].names == ("00000000-0000-0000-0000-00000000000a",)  # disabled subscription left out
    assert found["oci"].names == ("DEFAULT", "OTHER")
    assert found["oci"].details == {"tenancy": "ocid1.tenancy.oc1..bbbb", "region": "eu-frankfurt-1"}


def test_nothing_found_on_a_bare_machine(tmp_path):
    """An empty HOME and no variables: nothing detected, and the starter config comments every cloud out."""
    assert detect(clean_env(tmp_path)) == []
    data = yaml.safe_load(render_config([]))
    assert set(data["inventory"]) == {"ranges"}


def test_env_only_credentials(tmp_path):
    """Variables alone (CI, workload identity) count: AWS keys, GOOGLE_APPLICATION_CREDENTIALS, Azure SP."""
    env = clean_env(tmp_path) | {
        "AWS_ACCESS_KEY_ID": "AKIA...",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "sa.json"),
        "AZURE_CLIENT_ID": "c",
        "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-00000000000c",
    }
    found = {f.source: f for f in detect(env)}
    assert found["aws"].evidence == ("$AWS_ACCESS_KEY_ID",)
    assert found["gcp"].evidence == ("$GOOGLE_APPLICATION_CREDENTIALS",)
    assert found["azure"].names == ("00000000-0000-0000-0000-00000000000c",)
    assert "oci" not in found


def test_command_writes_a_config_without_secrets(tmp_path, monkeypatch):
    """`init` writes the file with every found cloud enabled and no secret value from any credential file."""
    populate(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", CF_TOKEN)
    for var in (
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "CLOUDSDK_CONFIG",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_CONFIG_DIR",
        "OCI_CLI_CONFIG_FILE",
        "OCI_CONFIG_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "agent.yaml"
    result = CliRunner().invoke(init_command, ["--path", str(out), "--zone", "example.com"])
    assert result.exit_code == 0, result.output
    assert "found aws, gcp, azure, oci" in result.output
    text = out.read_text()
    for secret in (AWS_SECRET, CF_TOKEN, OCI_FINGERPRINT, GCP_REFRESH, "hunter2hunter2", "d-FL95Q19q7MQmFpd7hHD0Ty"):
        assert secret not in text
    data = yaml.safe_load(text)
    assert data["zones"] == [{"name": "example.com"}]
    assert data["policy"] == "create-only" and data["dry_run"] is True
    assert set(data["inventory"]) == {"aws", "gcp", "azure", "oci"}  # ranges commented out: it needs egress
    assert "# ranges: {}" in text and "feeds fetch --dir DIR" in text
    assert "web-prod-123" in text and "prod" in text  # named in comments so the user can narrow the scope


def test_refuses_to_overwrite_without_force(tmp_path, monkeypatch):
    """An existing file is kept unless --force is given."""
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "agent.yaml"
    out.write_text("mine: true\n")
    result = CliRunner().invoke(init_command, ["--path", str(out)])
    assert result.exit_code == 2  # a usage error, not a partial failure
    assert "already exists" in result.output and "--force" in result.output
    assert out.read_text() == "mine: true\n"
    result = CliRunner().invoke(init_command, ["--path", str(out), "--force"])
    assert result.exit_code == 0, result.output
    assert "policy: create-only" in out.read_text()


def test_generated_config_loads(tmp_path):
    """The starter config is valid for `load_config` (with the zone filled in)."""
    config_mod = pytest.importorskip("agent.config")
    populate(tmp_path)
    found = detect(clean_env(tmp_path))
    path = tmp_path / "c.yaml"
    path.write_text(render_config(found, zones=("example.com",)))
    cfg = config_mod.load_config(str(path), env={"CLOUDFLARE_API_TOKEN": CF_TOKEN})
    assert cfg.policy == "create-only" and cfg.dry_run is True
    assert set(cfg.inventory.configured()) == {"aws", "gcp", "azure", "oci"}
    path.write_text(render_config(found, zones=("example.com",), ranges=True))
    cfg = config_mod.load_config(str(path), env={"CLOUDFLARE_API_TOKEN": CF_TOKEN})
    assert set(cfg.inventory.configured()) == {"ranges", "aws", "gcp", "azure", "oci"}
    assert cfg.inventory.aws.profile == "default"
    assert cfg.inventory.gcp.projects == ("web-prod-123",)  # the active gcloud configuration's project
    assert cfg.inventory.oci.profile == "DEFAULT"


def test_active_aws_profile_wins(tmp_path):
    """AWS_PROFILE, when set, is the profile written."""
    populate(tmp_path)
    found = detect(clean_env(tmp_path) | {"AWS_PROFILE": "prod"})
    data = yaml.safe_load(render_config(found))
    assert data["inventory"]["aws"]["profile"] == "prod"


def test_init_imports_no_cloud_sdk(tmp_path):
    """Detection reads files only: no cloud SDK module is loaded."""
    populate(tmp_path)
    code = (
        "import sys; from agent.init_cmd import detect, render_config; "
        f"render_config(detect({{'HOME': {str(tmp_path)!r}}})); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'oci') "
        "or m.startswith(('google.cloud.', 'google.auth', 'azure.mgmt', 'azure.identity', 'azure.core'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ranges_flag_and_output_json(tmp_path, monkeypatch):
    """--ranges turns the feeds on; -o json reports what was written; -o is no longer a path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "agent.yaml"
    result = CliRunner().invoke(init_command, ["--path", str(out), "--ranges", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ranges"] is True and json.loads(result.stdout)["path"] == str(out)
    assert "\n  ranges: {}" in out.read_text()
    result = CliRunner().invoke(init_command, ["-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2 and "x.yaml" in result.output
