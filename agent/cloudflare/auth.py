"""Cloudflare credentials: an API token (preferred) or the legacy global key + email, kept out of every repr and log."""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from agent.errors import ConfigError

__all__ = ["ENV_API_KEY", "ENV_API_TOKEN", "ENV_API_TOKEN_FILE", "ENV_EMAIL", "CloudflareCredentials"]

ENV_API_TOKEN = "CLOUDFLARE_API_TOKEN"
ENV_API_TOKEN_FILE = "CLOUDFLARE_API_TOKEN_FILE"
ENV_API_KEY = "CLOUDFLARE_API_KEY"
ENV_EMAIL = "CLOUDFLARE_EMAIL"

# A header value must be visible ASCII without spaces; anything else would make httpx fail with an encoding error
# whose text could echo the secret, so it is refused up front with a message that names only the field.
_SECRET_RE = re.compile(r"[\x21-\x7e]+")


def _check_secret(value: str, what: str) -> SecretStr:
    if not value:
        raise ConfigError(f"{what} is empty")
    if not _SECRET_RE.fullmatch(value):
        raise ConfigError(f"{what} contains white space or non-ASCII characters (value not shown)")
    return SecretStr(value)


@dataclass(frozen=True, slots=True, init=False)
class CloudflareCredentials:
    """Either an API token (`Authorization: Bearer`) or an email + global API key (`X-Auth-Email`/`X-Auth-Key`).

    Exactly one scheme must be given. Secrets are `pydantic.SecretStr` fields excluded from repr; `email` is not a
    secret and is shown. Prefer a scoped API token: the global key grants everything the user can do.
    """

    token: SecretStr | None = field(default=None, repr=False)
    email: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)

    def __init__(
        self,
        token: str | SecretStr | None = None,
        *,
        email: str | None = None,
        api_key: str | SecretStr | None = None,
    ) -> None:
        raw_token = token.get_secret_value() if isinstance(token, SecretStr) else token
        raw_key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if raw_token is not None and (raw_key is not None or email is not None):
            raise ConfigError("Cloudflare credentials: give either an API token or an email + API key, not both")
        if raw_token is None and (raw_key is None or not email):
            missing = "api_key" if raw_key is None and email else "email" if raw_key is not None else "token"
            raise ConfigError(f"Cloudflare credentials: {missing} is missing (need a token, or an email + API key)")
        object.__setattr__(
            self, "token", _check_secret(raw_token, "Cloudflare API token") if raw_token is not None else None
        )
        object.__setattr__(
            self, "api_key", _check_secret(raw_key, "Cloudflare API key") if raw_key is not None else None
        )
        if email is not None and (not email.strip() or any(c.isspace() for c in email) or not email.isascii()):
            raise ConfigError(f"Cloudflare credentials: email {email!r} is not a valid address")
        object.__setattr__(self, "email", email)

    @property
    def scheme(self) -> str:
        """``"token"`` or ``"global_key"``, for log lines that must say which kind is in use without showing it."""
        return "token" if self.token is not None else "global_key"

    @classmethod
    def from_token_file(cls, path: str | os.PathLike[str]) -> CloudflareCredentials:
        """Read a token from a mounted secret file (Kubernetes/Docker secrets); surrounding white space is stripped."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{ENV_API_TOKEN_FILE}: token file {str(file)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{ENV_API_TOKEN_FILE}: token file {str(file)!r} is unreadable: {type(exc).__name__}"
            ) from None
        token = text.strip()
        if not token:
            raise ConfigError(f"{ENV_API_TOKEN_FILE}: token file {str(file)!r} is empty")
        return cls(token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CloudflareCredentials:
        """Build credentials from `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_API_TOKEN_FILE` or `CLOUDFLARE_API_KEY` +
        `CLOUDFLARE_EMAIL`. Empty variables count as unset. Exactly one scheme must be configured: unlike
        cloudflare-python (which silently prefers the key when both are set) an ambiguous environment is refused.
        Raises `ConfigError` naming the variables involved, never their values.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value else None

        token, token_file, key, email = get(ENV_API_TOKEN), get(ENV_API_TOKEN_FILE), get(ENV_API_KEY), get(ENV_EMAIL)
        given = [name for name, value in ((ENV_API_TOKEN, token), (ENV_API_TOKEN_FILE, token_file)) if value]
        if key:
            given.append(ENV_API_KEY)
        if len(given) > 1:
            raise ConfigError(f"ambiguous Cloudflare credentials: set only one of {', '.join(given)}")
        if token:
            return cls(token.strip())  # a trailing newline from `$(cat file)` is common
        if token_file:
            return cls.from_token_file(token_file)
        if key:
            if not email:
                raise ConfigError(f"{ENV_API_KEY} is set but {ENV_EMAIL} is missing (the global key needs both)")
            return cls(email=email, api_key=key)
        if email:
            raise ConfigError(f"{ENV_EMAIL} is set but {ENV_API_KEY} is missing (or use {ENV_API_TOKEN})")
        raise ConfigError(
            f"no Cloudflare credentials: set {ENV_API_TOKEN}, {ENV_API_TOKEN_FILE}, or {ENV_API_KEY} + {ENV_EMAIL}"
        )

    def headers(self) -> dict[str, str]:
        """The authentication headers. The returned dict holds the secret: never log it."""
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        assert self.api_key is not None and self.email is not None
        return {"X-Auth-Email": self.email, "X-Auth-Key": self.api_key.get_secret_value()}

    def secrets(self) -> tuple[str, ...]:
        """The secret strings, so that error texts coming from a server can be scrubbed of them."""
        return tuple(s.get_secret_value() for s in (self.token, self.api_key) if s is not None)


class CloudflareAuth(httpx.Auth):
    """Adds the credentials to each request at send time, so they live in no client-wide header dict or repr."""

    def __init__(self, credentials: CloudflareCredentials) -> None:
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self._credentials.headers())
        yield request

    def __repr__(self) -> str:
        return f"CloudflareAuth(scheme={self._credentials.scheme!r})"
