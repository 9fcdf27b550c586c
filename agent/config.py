"""The run configuration: one YAML file, `${ENV}` interpolation, environment defaults, CLI overrides, validated once.

Only this module reads `os.environ` (through the `env` mapping it is given). Errors are `ConfigError`s that name each
offending field by its dotted path and show the value (never for secret fields).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, create_model, field_validator, model_validator

from agent import secrets
from agent.collectors.base import SOURCES
from agent.errors import ConfigError
from agent.ip import InvalidIPError, canonical_ip
from agent.schema import StrictModel

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_BASE_URL",
    "CloudflareSettings",
    "Config",
    "InventoryConfig",
    "MetricsSettings",
    "OriginSettings",
    "ZoneSpec",
    "load_config",
    "parse_shard",
]

CONFIG_ENV = "ORIGIN_REGION_AGENT_CONFIG"
SHARDS_ENV = "ORIGIN_REGION_AGENT_SHARDS"
DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
POLICIES = ("create-only", "upsert", "sync")
_ZONE_ID = re.compile(r"^[0-9a-f]{32}$")
_SECRET_WORDS = ("token", "secret", "key", "password", "credential")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_CONFIG_BYTES = 1_000_000  # a real config is a few KB; anything this big is a mistake (or an attack)
MAX_CONFIG_VALUES = 100_000  # values after YAML alias expansion ("billion laughs" stops here, in milliseconds)
MAX_SHOWN_VALUE = 60  # an echoed bad value is cut to this many characters
DEFAULT_MAX_DELETES = "10%"
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


class RateLimitSettings(StrictModel):
    """Client-side budget shared by every Cloudflare call of the process (Cloudflare allows 1,200 / 5 min)."""

    requests: int = Field(1000, ge=1)
    window_s: float = Field(300.0, gt=0)
    burst_requests: int | None = Field(50, ge=1)  # None: no burst limit, only the window
    burst_window_s: float = Field(1.0, gt=0)


class CloudflareSettings(StrictModel):
    """How to reach Cloudflare. Credentials come from the environment unless given here (use `${ENV}`)."""

    base_url: str = DEFAULT_BASE_URL
    api_family: Literal["v2", "v1"] = "v2"
    account_id: str | None = None
    api_token: SecretStr | None = None
    api_token_file: Path | None = None
    email: str | None = None
    api_key: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0, le=10)
    rate_limit: RateLimitSettings = RateLimitSettings()
    batch_size: int = Field(100, ge=1, le=100)


class OriginSettings(StrictModel):
    """Where a zone's origin IPs come from."""

    dns: Literal["proxied", "all", "off"] = "proxied"
    load_balancers: bool = False
    resolve_cnames: bool = False
    hostnames: tuple[str, ...] = ()
    static: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()  # resolvers for CNAME/hostname resolution; default: the system's
    resolver_port: int = Field(53, ge=1, le=65535)

    @field_validator("static")
    @classmethod
    def _canonical_ips(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for item in value:
            try:
                out.append(canonical_ip(item))
            except InvalidIPError as exc:
                raise ValueError(str(exc)) from None
        return tuple(out)


class ZoneSpec(StrictModel):
    """One zone, by name or by id; `origins` overrides the top-level origin settings for it."""

    name: str | None = None
    id: str | None = None
    origins: OriginSettings | None = None

    @model_validator(mode="after")
    def _name_or_id(self) -> ZoneSpec:
        if not self.name and not self.id:
            raise ValueError("a zone needs `name` or `id`")
        if self.id is not None and not _ZONE_ID.match(self.id):
            raise ValueError(f"zone id {self.id!r} is not 32 lower-case hex characters")
        return self

    @property
    def label(self) -> str:
        return self.name or self.id or ""


class _Inventory(StrictModel):
    """One section per inventory source; a source runs when its section is present."""

    def configured(self) -> dict[str, Any]:
        """Source name -> its config, for the configured sources only, in registry order."""
        return {name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None}


def _inventory_model() -> type[_Inventory]:
    """The `inventory` section's model, one optional field per source of `agent.collectors.base.SOURCES`."""
    fields: dict[str, Any] = {name: (source.config_class() | None, None) for name, source in SOURCES.items()}
    return create_model("InventoryConfig", __base__=_Inventory, __module__=__name__, **fields)


if TYPE_CHECKING:  # the checker sees the base (its `configured()`); pydantic validates the generated model
    InventoryConfig = _Inventory
else:
    InventoryConfig = _inventory_model()


class MetricsSettings(StrictModel):
    """Prometheus Pushgateway (for one-shot runs: CronJob, serverless)."""

    pushgateway_url: str | None = None
    job: str = "origin_region_agent"
    grouping_key: dict[str, str] = Field(default_factory=dict)


class Config(StrictModel):
    """Everything one run needs. Built by `load_config`; stages receive the parts they need, not the whole."""

    cloudflare: CloudflareSettings = CloudflareSettings()
    zones: tuple[ZoneSpec, ...] = ()
    all_zones: bool = False  # every zone of cloudflare.account_id
    origins: OriginSettings = OriginSettings()
    inventory: InventoryConfig = InventoryConfig()
    policy: Literal["create-only", "upsert", "sync"] = "create-only"
    dry_run: bool = False
    max_changes: int | None = Field(None, ge=0)
    # Per zone: an absolute count, or a percentage of the zone's current mappings (at least 1). Exit 3 beyond it.
    max_deletes: int | str = DEFAULT_MAX_DELETES
    force: bool = False  # apply a plan larger than max_changes or max_deletes
    concurrency: int = Field(16, ge=1, le=256)
    discovery_processes: int = Field(1, ge=1, le=64)  # forked discovery workers, each with `concurrency` threads
    zone_concurrency: int = Field(4, ge=1, le=64)
    shard: tuple[int, int] | None = None
    metrics: MetricsSettings = MetricsSettings()
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("max_deletes", mode="before")
    @classmethod
    def _max_deletes(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number of deletes (e.g. 25) or a percentage of the zone's mappings (e.g. 10%)")
        if isinstance(value, int):
            if value < 0:
                raise ValueError("must be 0 or more")
            return value
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return int(text)
            match = _PERCENT.match(text)
            if match and 0 <= float(match.group(1)) <= 100:
                return f"{match.group(1)}%"
        raise ValueError("must be a number of deletes (e.g. 25) or a percentage of the zone's mappings (e.g. 10%)")

    def delete_limit(self, current_mappings: int) -> int:
        """How many deletes one zone with `current_mappings` mappings may have before the plan is refused."""
        if isinstance(self.max_deletes, int):
            return self.max_deletes
        percent = float(self.max_deletes.rstrip("%"))
        return max(1, int(current_mappings * percent / 100))

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("shard", mode="before")
    @classmethod
    def _shard(cls, value: Any) -> Any:
        return parse_shard(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.shard is not None:
            index, count = self.shard
            if not 0 <= index < count:
                raise ValueError(f"shard {index}/{count}: the index must be between 0 and {count - 1}")
            if self.policy == "sync" and count > 1:
                raise ValueError(
                    "policy 'sync' cannot run sharded: each shard sees part of the inventory, so it would delete "
                    "mappings other shards own; use 'create-only' or 'upsert' in sharded runs"
                )
        if self.all_zones and not self.cloudflare.account_id:
            raise ValueError("all_zones needs cloudflare.account_id")
        if self.origins.load_balancers and not self.cloudflare.account_id:
            raise ValueError("origins.load_balancers needs cloudflare.account_id (pools belong to the account)")
        return self


def parse_shard(value: str, env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """``"i/n"``, or ``"auto"``: index from JOB_COMPLETION_INDEX / CLOUD_RUN_TASK_INDEX, count from
    ORIGIN_REGION_AGENT_SHARDS / CLOUD_RUN_TASK_COUNT. ``auto`` outside such a job means no sharding."""
    env = os.environ if env is None else env
    if value == "auto":
        index = env.get("JOB_COMPLETION_INDEX", env.get("CLOUD_RUN_TASK_INDEX"))
        count = env.get(SHARDS_ENV, env.get("CLOUD_RUN_TASK_COUNT"))
        if index is None or count is None:
            return None
        value = f"{index}/{count}"
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not match or int(match.group(2)) < 1:
        raise ValueError(f"shard {value!r} must look like INDEX/COUNT, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def _interpolate(value: Any, env: Mapping[str, str], path: str) -> Any:
    """Replace ``${NAME}`` and ``${NAME:-default}`` in every string of the YAML tree."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{path}.{i}") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set (referenced as ${{{name}}})")

    return _ENV_REF.sub(substitute, value)


def _is_secret(loc: tuple[Any, ...]) -> bool:
    return any(word in str(part).lower() for part in loc for word in _SECRET_WORDS)


def _shown(value: Any) -> str:
    """How a bad value is echoed: scalars only (a mapping would echo the whole input), cut short, secrets redacted."""
    if isinstance(value, dict | list | tuple):
        return ""
    text = repr(value)
    if len(text) > MAX_SHOWN_VALUE:
        text = text[: MAX_SHOWN_VALUE - 4] + "...'"
    return f" (got {secrets.redact(text)})"


def _format_errors(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = ".".join(str(p) for p in loc) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        shown = "" if _is_secret(loc) or err["type"] == "missing" or not loc else _shown(err["input"])
        lines.append(f"  {secrets.redact(path)}: {secrets.redact(message)}{shown}")
    return f"invalid configuration in {origin}:\n" + "\n".join(lines)


def _count_values(value: Any, budget: int) -> int:
    """Values in the tree as interpolation and validation will walk it (shared YAML aliases counted each time);
    stops as soon as `budget` is exceeded."""
    stack, seen = [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            break
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def _apply_env_defaults(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """Cloudflare credentials and endpoint from the usual variables, unless the file sets them."""
    cf = raw.setdefault("cloudflare", {})
    if not isinstance(cf, dict):
        return
    for key, var in (
        ("base_url", "CLOUDFLARE_BASE_URL"),
        ("api_token", "CLOUDFLARE_API_TOKEN"),
        ("api_token_file", "CLOUDFLARE_API_TOKEN_FILE"),
        ("email", "CLOUDFLARE_EMAIL"),
        ("api_key", "CLOUDFLARE_API_KEY"),
        ("account_id", "CLOUDFLARE_ACCOUNT_ID"),
    ):
        if var in env and env[var] and key not in cf:
            cf[key] = env[var]


def _apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "zones":
            raw["zones"] = [{"id": z} if _ZONE_ID.match(z) else {"name": z} for z in value]
        elif key in (
            "policy",
            "dry_run",
            "max_changes",
            "max_deletes",
            "concurrency",
            "shard",
            "force",
            "log_format",
            "log_level",
        ):
            raw[key] = value
        else:
            raise ConfigError(f"unknown override {key!r}")


def _parse_file(path: Path, origin: str) -> dict[str, Any]:
    """Read and parse the YAML file with bounds: size, encoding, regular file, alias expansion."""
    try:
        if path.exists() and not path.is_file():
            raise ConfigError(f"config file {origin} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {origin}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {origin} is larger than {MAX_CONFIG_BYTES:,} bytes; is it the right file?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {origin} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"config file {origin} is not valid YAML{where}: {secrets.redact(str(getattr(exc, 'problem', exc)))}"
        ) from None
    except RecursionError:
        raise ConfigError(f"config file {origin} nests too deeply") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {origin}: the top level must be a mapping, got {type(raw).__name__}")
    if _count_values(raw, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise ConfigError(
            f"config file {origin} expands to more than {MAX_CONFIG_VALUES:,} values (YAML aliases nested in "
            "aliases?); refused"
        )
    return raw


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read, interpolate and validate the configuration; raise `ConfigError` with every problem found."""
    env = dict(os.environ if env is None else env)
    secrets.register_env(env)  # before anything can echo a value
    if path is None:
        path = env.get(CONFIG_ENV) or None
    raw: Any = {}
    origin = "flags and environment"
    if path is not None:
        origin = str(path)
        raw = _parse_file(Path(path), origin)
        secrets.register_tree(raw)
        raw = _interpolate(raw, env, "")
        secrets.register_tree(raw)
    _apply_env_defaults(raw, env)
    if overrides:
        _apply_overrides(raw, overrides)
    if isinstance(raw.get("shard"), str):
        try:
            raw["shard"] = parse_shard(raw["shard"], env)
        except ValueError as exc:
            raise ConfigError(f"invalid configuration in {origin}:\n  shard: {secrets.redact(str(exc))}") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, origin)) from None
