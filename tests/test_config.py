"""Configuration loading: environment defaults, interpolation, overrides, sharding."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config, parse_shard
from agent.errors import ConfigError


def test_environment_supplies_cloudflare_settings() -> None:
    config = load_config(
        None,
        env={
            "CLOUDFLARE_API_TOKEN": "t0k",
            "CLOUDFLARE_BASE_URL": "http://127.0.0.1:1/x",
            "CLOUDFLARE_ACCOUNT_ID": "a" * 32,
        },
    )
    assert config.cloudflare.api_token is not None and config.cloudflare.api_token.get_secret_value() == "t0k"
    assert config.cloudflare.base_url == "http://127.0.0.1:1/x"
    assert "t0k" not in repr(config) and "t0k" not in str(config.model_dump())


def test_file_and_interpolation_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "cloudflare:\n  api_token: ${CF_TOKEN}\n  base_url: ${BASE:-http://127.0.0.1:9/client/v4}\n"
        "zones: [{name: a.example}]\npolicy: upsert\n"
    )
    config = load_config(
        path,
        env={"CF_TOKEN": "abc", "CLOUDFLARE_API_TOKEN": "ignored"},
        overrides={
            "policy": "create-only",
            "zones": ["b.example", "0123456789abcdef0123456789abcdef"],
            "dry_run": True,
            "max_changes": 5,
        },
    )
    assert config.cloudflare.api_token.get_secret_value() == "abc"  # the file wins over the environment
    assert config.cloudflare.base_url == "http://127.0.0.1:9/client/v4"
    assert config.policy == "create-only" and config.dry_run and config.max_changes == 5
    assert [(z.name, z.id) for z in config.zones] == [("b.example", None), (None, "0123456789abcdef0123456789abcdef")]


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("policy: sync\n")
    assert load_config(None, env={"ORIGIN_REGION_AGENT_CONFIG": str(path)}).policy == "sync"


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("2/4", {}, (2, 4)),
        ("auto", {"JOB_COMPLETION_INDEX": "3", "ORIGIN_REGION_AGENT_SHARDS": "8"}, (3, 8)),
        ("auto", {"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "2"}, (0, 2)),
        ("auto", {}, None),
    ],
)
def test_shards(value: str, env: dict[str, str], expected: tuple[int, int] | None) -> None:
    assert parse_shard(value, env) == expected
    assert load_config(None, env=env, overrides={"shard": value}).shard == expected


def test_sharded_sync_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot run sharded"):
        load_config(
            None,
            env={"JOB_COMPLETION_INDEX": "0", "ORIGIN_REGION_AGENT_SHARDS": "2"},
            overrides={"shard": "auto", "policy": "sync"},
        )


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("policy: nope\nconcurrency: -1\nzones: [{}]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value)
    assert "policy:" in text and "concurrency:" in text and "zones.0: a zone needs `name` or `id`" in text
