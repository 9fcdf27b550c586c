"""The token and the global key never appear in a log line, repr, exception message, exception args or traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest
from cf_support import EMAIL, GLOBAL_KEY, TOKEN

from agent.clock import FakeClock
from agent.cloudflare import (
    ApiFamily,
    CloudflareClient,
    CloudflareCredentials,
    CloudflareError,
    RateLimiter,
)
from agent.ip import InvalidIPError
from agent.sandbox.cloudflare import FakeCloudflare

SECRETS = (TOKEN, GLOBAL_KEY)


def _texts_of(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [repr(arg) for arg in exc.args]
    assert not any(isinstance(arg, httpx.Request | httpx.Response) for arg in exc.args)
    return texts


def _exercise(client: CloudflareClient, fake: FakeCloudflare, zone_id: str) -> list[BaseException]:
    """Drive successes and every kind of failure; return the exceptions raised."""
    raised: list[BaseException] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except (CloudflareError, InvalidIPError, ValueError) as exc:
            raised.append(exc)

    attempt(lambda: client.upsert_mapping(zone_id, "192.0.2.1", "aws", "us-east-1"))
    attempt(lambda: client.list_mappings(zone_id))
    attempt(lambda: client.get_mapping(zone_id, "192.0.2.99"))  # 1142
    attempt(lambda: client.upsert_mapping(zone_id, "192.0.2.2", "aws", "atlantis-1"))  # 1157
    attempt(lambda: client.get_mapping(zone_id, "fe80::1%eth0"))  # client-side
    fake.fail_next(429, count=3, code=1015, retry_after="1")
    attempt(lambda: client.list_mappings(zone_id))
    fake.fail_next(503, count=1, retry_after="1")
    attempt(lambda: client.list_mappings(zone_id))
    fake.drop_next(3)
    attempt(lambda: client.list_mappings(zone_id))
    fake.malformed_next(kind="html")
    attempt(lambda: client.list_mappings(zone_id))
    fake.fail_next(400, code=6003)
    attempt(lambda: client.list_mappings(zone_id))
    attempt(lambda: client.list_mappings("0" * 32))  # 7003
    return raised


@pytest.mark.parametrize("scheme", ["token", "global_key"])
def test_secrets_never_leak(
    make_client: Callable[..., CloudflareClient],
    fake: FakeCloudflare,
    zone_id: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    scheme: str,
) -> None:
    """Logs at DEBUG (httpx and httpcore included), reprs, messages, args and tracebacks are free of secrets."""
    creds = (
        CloudflareCredentials(TOKEN) if scheme == "token" else CloudflareCredentials(email=EMAIL, api_key=GLOBAL_KEY)
    )
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for family in ApiFamily:
        client = make_client(family, credentials=creds, max_retries=2)
        raised = _exercise(client, fake, zone_id)
        assert len(raised) == 8
        for exc in raised:
            texts += _texts_of(exc)
        texts += [repr(client), str(client), repr(client.rate_limiter)]
    texts += [repr(creds), str(creds), repr(fake.requests)]
    texts += [caplog.text, *capsys.readouterr()]
    assert "retry" in caplog.text  # the retries were logged ...
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # ... and so was httpcore's DEBUG chatter
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_secret_echoed_by_a_server_is_redacted(quirk: Callable[..., object], clock: FakeClock) -> None:
    """A server (or proxy) that echoes the Authorization header into an error or an HTML page gets scrubbed."""

    def answer(method: str, path: str, query: dict, headers: dict) -> tuple:
        echoed = headers.get("authorization", "")
        if path.endswith("/verify"):
            body = {"success": False, "errors": [{"code": 6003, "message": f"bad header {echoed}"}], "result": None}
            return 400, {}, body
        return 200, {}, f"<html>proxy says: {echoed}</html>".encode()

    server = quirk(answer)
    client = CloudflareClient(
        CloudflareCredentials(TOKEN), base_url=server.base_url, clock=clock, rate_limiter=RateLimiter(clock=clock)
    )
    with client:
        for call in (client.verify_token, lambda: client.zones()):
            with pytest.raises(CloudflareError) as info:
                call()
            assert "[redacted]" in str(info.value)
            assert all(TOKEN not in text for text in _texts_of(info.value))


def test_credentials_hide_secrets_but_show_the_scheme() -> None:
    """repr/str of credentials show neither token nor key; equality still works."""
    token = CloudflareCredentials(TOKEN)
    key = CloudflareCredentials(email=EMAIL, api_key=GLOBAL_KEY)
    assert TOKEN not in repr(token) and GLOBAL_KEY not in repr(key)
    assert EMAIL in repr(key)
    assert (token.scheme, key.scheme) == ("token", "global_key")
    assert token == CloudflareCredentials(TOKEN)
    assert token.headers() == {"Authorization": f"Bearer {TOKEN}"}
    assert key.headers() == {"X-Auth-Email": EMAIL, "X-Auth-Key": GLOBAL_KEY}
