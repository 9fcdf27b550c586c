"""The error tree of the agent.

```
AgentError
├── ConfigError              bad settings or input: the CLI exits 2, nothing is attempted
├── CollectorError           one collector scope failed: recorded in the report, the run continues
├── OriginsError             a zone's origins could not be listed completely
└── CloudflareError          raised only by agent.cloudflare (see agent/cloudflare/errors.py)
```
Messages never contain secrets: tokens and keys are not passed to these constructors.
"""

from __future__ import annotations

__all__ = ["AgentError", "CollectorError", "ConfigError", "OriginsError"]


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


class ConfigError(AgentError):
    """A configuration value or an input file is wrong. The message names the field and the value."""


class CollectorError(AgentError):
    """A collector scope failed. `code` is the vendor's error code (``AccessDenied``), when there is one."""

    def __init__(self, message: str, *, vendor: str = "", code: str = "") -> None:
        super().__init__(message)
        self.vendor = vendor
        self.code = code


class OriginsError(AgentError):
    """A zone's origin IPs could not be listed (completely)."""
