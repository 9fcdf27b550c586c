"""AWS Lambda entry point: ``agent.handlers.aws_lambda.handler`` (scheduled by EventBridge Scheduler).

The event may carry ``config`` (a path inside the package, or an inline mapping) and overrides (``overrides:
{policy, dry_run, zones, max_changes, concurrency, shard}``, or the same keys at the top level); otherwise the config
comes from ``ORIGIN_REGION_AGENT_CONFIG``. The run stops starting new work when
``context.get_remaining_time_in_millis()`` minus a safety margin (``ORIGIN_REGION_AGENT_SAFETY_MARGIN_S``, default
20 s) runs out, so a large organisation gets a partial but well-reported run instead of a Lambda timeout.

The Cloudflare token is read at cold start from Secrets Manager (``CLOUDFLARE_API_TOKEN_SECRET_ARN``, the secret
string or its JSON key ``token``/``api_token``) or SSM Parameter Store (``CLOUDFLARE_API_TOKEN_PARAMETER``, a
SecureString), and cached for warm invocations. It is never put into the function's environment configuration,
where anyone with ``lambda:GetFunctionConfiguration`` could read it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from agent.errors import ConfigError
from agent.handlers.common import error_summary, execute, safety_margin
from agent.logs import configure_logging, log_summary

__all__ = ["PARAMETER_ENV", "SECRET_ARN_ENV", "handler"]

logger = logging.getLogger(__name__)

SECRET_ARN_ENV = "CLOUDFLARE_API_TOKEN_SECRET_ARN"
PARAMETER_ENV = "CLOUDFLARE_API_TOKEN_PARAMETER"
_token_cache: dict[str, str] = {}


def _fetch_token(env: Mapping[str, str]) -> str | None:
    """The token from Secrets Manager or SSM when one of their variables is set and no token is given directly."""
    if env.get("CLOUDFLARE_API_TOKEN") or env.get("CLOUDFLARE_API_TOKEN_FILE"):
        return None
    secret_arn, parameter = env.get(SECRET_ARN_ENV), env.get(PARAMETER_ENV)
    source = secret_arn or parameter
    if not source:
        return None
    if source in _token_cache:
        return _token_cache[source]
    import boto3  # the Lambda runtime and the `aws` extra provide it; only this path needs it
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if secret_arn:
            value = boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
            token = _token_from_secret_string(value, secret_arn)
        else:
            response = boto3.client("ssm").get_parameter(Name=parameter, WithDecryption=True)
            token = response["Parameter"]["Value"].strip()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        var = SECRET_ARN_ENV if secret_arn else PARAMETER_ENV
        raise ConfigError(f"{var}: cannot read the Cloudflare token from {source!r}: {code}") from None
    except BotoCoreError as exc:
        var = SECRET_ARN_ENV if secret_arn else PARAMETER_ENV
        raise ConfigError(f"{var}: cannot read the Cloudflare token from {source!r}: {type(exc).__name__}") from None
    if not token:
        raise ConfigError(f"{SECRET_ARN_ENV if secret_arn else PARAMETER_ENV}: {source!r} holds an empty token")
    _token_cache[source] = token
    return token


def _token_from_secret_string(value: str, source: str) -> str:
    """A plain secret string is the token; a JSON object holds it under ``token``, ``api_token`` or
    ``CLOUDFLARE_API_TOKEN`` (the shape the console's key/value editor writes)."""
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(f"{SECRET_ARN_ENV}: secret {source!r} looks like JSON but does not parse") from None
        for key in ("token", "api_token", "CLOUDFLARE_API_TOKEN"):
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return data[key].strip()
        raise ConfigError(f"{SECRET_ARN_ENV}: secret {source!r} is JSON without a `token` or `api_token` key")
    return text


def handler(event: Any, context: Any) -> dict[str, Any]:
    """See the module docstring. Returns the JSON summary (schema version 1); ``exit_code`` says how it went."""
    env = dict(os.environ)
    try:
        token = _fetch_token(env)
    except ConfigError as exc:
        configure_logging(env.get("ORIGIN_REGION_AGENT_LOG_FORMAT", "json"), "INFO")  # type: ignore[arg-type]
        logger.error("configuration error: %s", exc, extra={"exit_code": 2})
        summary = error_summary(str(exc), exit_code=2)
        log_summary(summary)
        return summary
    if token:
        env["CLOUDFLARE_API_TOKEN"] = token

    def budget(env: Mapping[str, str]) -> Any:
        margin = safety_margin(env)
        if context is None or not hasattr(context, "get_remaining_time_in_millis"):
            return None
        return lambda: context.get_remaining_time_in_millis() / 1000 - margin

    return execute(payload=event, env=env, budget=budget)
