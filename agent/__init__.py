"""origin-region-agent: keeps Cloudflare origin cloud region mappings in sync with your clouds.

The public names are loaded on first use, so `import agent` (and `origin-region-agent --help`) stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# The one place the version lives is agent/VERSION (pyproject.toml, deploy scripts and image tags read it).
__version__ = (Path(__file__).parent / "VERSION").read_text().strip()

__all__ = ["AgentError", "Config", "ConfigError", "RunReport", "load_config", "run"]

_EXPORTS = {
    "AgentError": "agent.errors",
    "ConfigError": "agent.errors",
    "Config": "agent.config",
    "load_config": "agent.config",
    "RunReport": "agent.report.summary",
    "run": "agent.pipeline",
}

if TYPE_CHECKING:
    from agent.config import Config, load_config
    from agent.errors import AgentError, ConfigError
    from agent.pipeline import run
    from agent.report.summary import RunReport


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
