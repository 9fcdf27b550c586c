"""AWS Lambda handler: event → config → pipeline → JSON summary, against the Cloudflare fake (moto for the token)."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from agent.handlers import aws_lambda


@dataclass
class LambdaContext:
    """The part of the Lambda context object the handler uses."""

    remaining_ms: int = 600_000
    function_name: str = "origin-region-agent"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_scheduled_event_runs_and_returns_the_summary(setup, cf, zone, gateway, capsys, parse_logs, expected_mappings):
    """An EventBridge Scheduler event: mappings created, summary returned and logged last, metrics pushed (POST)."""
    event = {"source": "aws.scheduler", "detail-type": "Scheduled Event", "id": "e1"}  # envelope keys are ignored
    summary = aws_lambda.handler(event, LambdaContext())
    assert summary["exit_code"] == 0, summary
    assert summary["version"] == 1
    assert cf.mappings(zone) == expected_mappings
    assert summary["totals"]["created"] == 2
    logs = parse_logs(capsys.readouterr().err)
    assert logs[-1]["msg"] == "run summary"
    assert logs[-1]["summary"] == json.loads(json.dumps(summary, default=str))
    assert "Traceback" not in json.dumps(logs)
    (push,) = gateway.pushes
    assert push.method == "POST" and push.path == "/metrics/job/origin_region_agent"
    assert "origin_region_agent_last_success_timestamp_seconds" in push.body


def test_event_overrides_dry_run_and_zones(setup, cf, zone):
    """`overrides` in the event (and top-level override keys) reach load_config: a dry run writes nothing."""
    summary = aws_lambda.handler({"overrides": {"dry_run": True}, "zones": "example.com"}, LambdaContext())
    assert summary["exit_code"] == 0, summary
    assert summary["dry_run"] is True
    assert cf.mappings(zone) == {}
    assert [r for r in cf.requests if r.method in ("PUT", "POST", "PATCH", "DELETE")] == []


def test_inline_config_in_the_event(setup, cf, zone, monkeypatch, expected_mappings):
    """A config mapping in the event is used instead of ORIGIN_REGION_AGENT_CONFIG."""
    monkeypatch.delenv("ORIGIN_REGION_AGENT_CONFIG")
    summary = aws_lambda.handler({"config": setup.config}, LambdaContext())
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings


def test_remaining_time_comes_from_the_context(setup, cf, zone):
    """With less time left than the safety margin, the run starts nothing new and reports what it skipped."""
    summary = aws_lambda.handler({}, LambdaContext(remaining_ms=15_000))  # 15 s < 20 s default margin
    assert summary["exit_code"] == 1
    assert summary["skipped"]
    assert cf.mappings(zone) == {}


def test_safety_margin_is_configurable(setup, cf, zone, monkeypatch, expected_mappings):
    """ORIGIN_REGION_AGENT_SAFETY_MARGIN_S=5 lets a 15 s budget run."""
    monkeypatch.setenv("ORIGIN_REGION_AGENT_SAFETY_MARGIN_S", "5")
    summary = aws_lambda.handler({}, LambdaContext(remaining_ms=15_000))
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"policy": "yolo"}, "policy"),
        ({"zones": [{"nme": "example.com"}]}, "nme"),
    ],
    ids=["bad-policy", "typo-key"],
)
def test_config_error_is_exit_2_in_one_line(setup, capsys, parse_logs, change, needle):
    """A bad config gives exit_code 2 and an error naming the field; one error log line, no traceback."""
    setup.write(**change)
    summary = aws_lambda.handler({}, LambdaContext())
    assert summary["exit_code"] == 2
    assert needle in summary["error"]
    logs = parse_logs(capsys.readouterr().err)
    errors = [entry for entry in logs if entry["level"] == "ERROR" and entry["msg"] != "run summary"]
    assert len(errors) == 1 and needle in errors[0]["msg"]
    assert "Traceback" not in json.dumps(logs)


def test_bad_override_in_event_is_a_config_error(setup):
    """An unknown key inside `overrides` is refused by name."""
    summary = aws_lambda.handler({"overrides": {"polcy": "sync"}}, LambdaContext())
    assert summary["exit_code"] == 2
    assert "polcy" in summary["error"]


def test_wrong_token_is_exit_2_and_token_never_logged(setup, capsys, monkeypatch):
    """Cloudflare refusing the token is an auth error (exit 2); the token value appears in no log line."""
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "not-the-right-token-abcdef")
    summary = aws_lambda.handler({}, LambdaContext())
    assert summary["exit_code"] == 2
    err = capsys.readouterr().err
    assert "not-the-right-token-abcdef" not in err
    assert "not-the-right-token-abcdef" not in json.dumps(summary)


# --- token from Secrets Manager / SSM, through the real boto3 against moto in server mode -----------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's server on an ephemeral 127.0.0.1 port, shared by this module's tests (reset before each)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_server(moto_url, monkeypatch) -> Iterator[str]:
    """A clean moto (state reset) that boto3 reaches through AWS_ENDPOINT_URL, with fake credentials."""
    # moto keeps its state per process, across server instances: start each test from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()
    for key, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    aws_lambda._token_cache.clear()
    yield moto_url
    aws_lambda._token_cache.clear()


@pytest.mark.parametrize("shape", ["plain", "json"])
def test_token_from_secrets_manager(setup, cf, zone, moto_server, monkeypatch, shape, token, expected_mappings, capsys):
    """CLOUDFLARE_API_TOKEN_SECRET_ARN: the token is read with boto3 (plain string or JSON {"token": ...})."""
    import boto3

    value = token if shape == "plain" else json.dumps({"token": token})
    arn = boto3.client("secretsmanager").create_secret(Name="cloudflare/agent", SecretString=value)["ARN"]
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN_SECRET_ARN", arn)
    summary = aws_lambda.handler({}, LambdaContext())
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings
    assert token not in capsys.readouterr().err


def test_token_from_ssm_parameter(setup, cf, zone, moto_server, monkeypatch, token, expected_mappings):
    """CLOUDFLARE_API_TOKEN_PARAMETER: a SecureString read WithDecryption."""
    import boto3

    boto3.client("ssm").put_parameter(Name="/agent/cloudflare-token", Value=token, Type="SecureString")
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN_PARAMETER", "/agent/cloudflare-token")
    summary = aws_lambda.handler({}, LambdaContext())
    assert summary["exit_code"] == 0, summary
    assert cf.mappings(zone) == expected_mappings


def test_missing_secret_is_a_config_error(setup, moto_server, monkeypatch):
    """A secret that does not exist: exit 2 naming the variable and the AWS error code."""
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN")
    monkeypatch.setenv(
        "CLOUDFLARE_API_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    )
    summary = aws_lambda.handler({}, LambdaContext())
    assert summary["exit_code"] == 2
    assert "CLOUDFLARE_API_TOKEN_SECRET_ARN" in summary["error"]
    assert "ResourceNotFoundException" in summary["error"]
