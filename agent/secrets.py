"""One registry of every secret value the process knows, and redaction of those values from any text or summary.

Why a registry rather than care at each call site: a secret leaks through paths nobody thought of (a token pasted
into `timeout_s` and echoed by validation, an SDK exception quoting a header, a summary's `errors`). Every value
that may be a credential is registered once, as early as possible (`load_config` registers the environment's and the
file's secret-looking values before validating anything), and every output path (log records, CLI errors, the JSON
summary, handler answers) runs through `redact` / `redact_obj`.

What is registered: values of environment variables and config keys whose name contains a secret word (token,
secret, key, password, passphrase, credential, external id, ...), the Cloudflare token/key and token file contents,
and cloud client secrets. Values shorter than `MIN_LENGTH` are ignored: redacting "1" or "aws" would mangle output,
and such values are not credentials.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MIN_LENGTH",
    "REDACTED",
    "is_secret_name",
    "known_secrets",
    "redact",
    "redact_obj",
    "register",
    "register_env",
    "register_tree",
]

REDACTED = "[REDACTED]"
MIN_LENGTH = 8
_SECRET_NAME = re.compile(
    r"token|secret|passw|passphrase|pass_phrase|credential|private|external_?id|api_?key|access_?key|(^|_)key($|_)",
    re.IGNORECASE,
)
# Names that match a secret word but hold no secret (redacting them would only hide useful context).
_NOT_SECRET_NAME = re.compile(r"^(.*_(file|path|env|dir)|.*application_credentials)$", re.I)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def is_secret_name(name: str) -> bool:
    """Whether a config key or environment variable name looks like it holds a credential."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.match(name)


def register(value: Any) -> None:
    """Remember `value` (a str or a pydantic SecretStr) so it is redacted from every output from now on."""
    if value is None:
        return
    getter = getattr(value, "get_secret_value", None)
    text = getter() if callable(getter) else value
    if not isinstance(text, str):
        return
    global _pattern
    candidates = {text, text.strip()}
    with _lock:
        added = False
        for item in candidates:
            if len(item) >= MIN_LENGTH and item not in _secrets:
                _secrets.add(item)
                added = True
        if added:
            # Longest first, so a secret containing another is replaced whole.
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_env(env: Mapping[str, str]) -> None:
    """Register the values of every environment variable whose name looks secret (CLOUDFLARE_API_TOKEN, ...)."""
    for name, value in env.items():
        if is_secret_name(name):
            register(value)


def register_tree(value: Any, key: str = "") -> None:
    """Register every string held under a secret-looking key anywhere in a parsed config tree."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            register_tree(v, str(k))
    elif isinstance(value, list | tuple):
        for item in value:
            register_tree(item, key)
    elif isinstance(value, str) and key and is_secret_name(key):
        register(value)


def known_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `REDACTED`."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def redact_obj(value: Any) -> Any:
    """A copy of a JSON-like structure (dicts, lists, strings) with every registered secret redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(k) if isinstance(k, str) else k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_obj(v) for v in value]
    return value


def forget_all() -> None:
    """Tests only: empty the registry."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def register_all(values: Iterable[Any]) -> None:
    for value in values:
        register(value)
