"""The documented example configuration validates (so the README's reference cannot drift from the code)."""

from pathlib import Path

from agent.config import load_config

EXAMPLE = Path(__file__).parent.parent / "deploy" / "config.example.yaml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.policy == "create-only"
    assert set(config.inventory.configured()) == {"static", "aws", "gcp", "azure", "oci", "ranges"}
    assert [z.label for z in config.zones] == ["example.com", "023e105f4ecef8ad9ca31a8372d0c353"]


def test_every_yaml_example_in_the_readme_is_valid(tmp_path: Path) -> None:
    """The README's configuration snippets load (so the documentation cannot drift from the code)."""
    import re
    import textwrap

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    assert len(blocks) >= 7
    for number, block in enumerate(blocks):
        path = tmp_path / f"readme-{number}.yaml"
        path.write_text(textwrap.dedent(block))
        load_config(path, env={"CLOUDFLARE_API_TOKEN": "x"})
