"""Credential checks: a token through /user/tokens/verify, a global key through /user."""

from __future__ import annotations

import pytest

from agent.cloudflare import CloudflareAuthError, CloudflareClient, CloudflareCredentials, RateLimiter
from agent.sandbox.cloudflare import FakeCloudflare

TOKEN = "verify-token-0123456789"
EMAIL, KEY = "ops@example.com", "0123456789abcdef0123456789abcdef01234"


def client(fake: FakeCloudflare, credentials: CloudflareCredentials) -> CloudflareClient:
    return CloudflareClient(
        credentials, base_url=fake.base_url, max_retries=0, rate_limiter=RateLimiter(1000, 1, burst_requests=None)
    )


def test_verify_token_and_global_key() -> None:
    with FakeCloudflare(tokens=(TOKEN,), global_keys={EMAIL: KEY}) as fake:
        with client(fake, CloudflareCredentials(TOKEN)) as c:
            assert c.verify_token()["status"] == "active"
        with client(fake, CloudflareCredentials(email=EMAIL, api_key=KEY)) as c:
            assert c.verify_token()["email"] == EMAIL
        with (
            client(fake, CloudflareCredentials(email=EMAIL, api_key="f" * 37)) as c,
            pytest.raises(CloudflareAuthError) as info,
        ):
            c.verify_token()
        assert "f" * 37 not in str(info.value)
        assert [r.path.rsplit("/client/v4", 1)[-1] for r in fake.requests] == ["/user/tokens/verify", "/user", "/user"]
