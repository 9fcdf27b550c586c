"""The documented example configuration validates (so the README's reference cannot drift from the code)."""

from pathlib import Path

from agent.config import load_config

EXAMPLE = Path(__file__).parent.parent / "deploy" / "config.example.yaml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.policy == "create-only"
    assert set(config.inventory.configured()) == {"static", "aws", "gcp", "azure", "oci", "ranges"}
    assert [z.label for z in config.zones] == ["example.com", "023e105f4ecef8ad9ca31a8372d0c353"]
