"""Small guards on the public surface."""

import subprocess
import sys

import agent


def test_all_is_pinned() -> None:
    assert agent.__all__ == ["AgentError", "Config", "ConfigError", "RunReport", "load_config", "run"]
    for name in agent.__all__:
        assert getattr(agent, name) is not None


def test_python_dash_m_agent_help() -> None:
    out = subprocess.run([sys.executable, "-m", "agent", "--help"], capture_output=True, text=True, check=True)
    for command in ("plan", "sync", "discover", "mappings", "regions", "demo", "lookup", "init"):
        assert command in out.stdout
