"""The `demo` command: the whole pipeline against the sandbox, with no credentials and no network.

It starts the Cloudflare fake with a sample zone, each cloud fake whose SDK is installed (their `start_demo`), writes a
static inventory and a config into a temporary folder, prints the plan (dry run), applies it, and prints the summary.
A hand-made mapping in the zone shows that `create-only` leaves it alone. With ``--engine``, each cloud whose fake has
an inventory engine (its `start_demo` takes ``engine``) is discovered through it instead of per account.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from agent.sandbox.demo import DemoCloud

__all__ = ["CLOUD_MODULES", "engine_capable", "run_demo", "start_clouds"]

logger = logging.getLogger(__name__)

CLOUD_MODULES = {
    "aws": "agent.sandbox.aws",
    "gcp": "agent.sandbox.gcp",
    "azure": "agent.sandbox.azure",
    "oci": "agent.sandbox.oci",
}
DEMO_TOKEN = "demo-token-not-a-secret"
DEMO_ZONE_ID = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
STATIC_ROWS = [
    ("203.0.113.10", "aws", "eu-west-1", "cmdb"),
    ("203.0.113.11", "gcp", "europe-west1", "cmdb"),
    ("203.0.113.12", "azure", "westeurope", "cmdb"),
    ("203.0.113.13", "aws", "mars-north-1", "cmdb"),  # not a supported region: reported, never written
]


def engine_capable(name: str) -> bool:
    """Whether cloud `name`'s fake can serve its inventory engine (its `start_demo` takes ``engine``)."""
    module = importlib.import_module(CLOUD_MODULES[name])
    return "engine" in inspect.signature(module.start_demo).parameters


def start_clouds(
    stack: contextlib.ExitStack, names: list[str], *, engine: bool = False
) -> tuple[list[DemoCloud], list[str]]:
    """Start the requested cloud fakes; return them and notes about the ones that could not start."""
    clouds, notes = [], []
    for name in names:
        try:
            module = importlib.import_module(CLOUD_MODULES[name])
            if engine and engine_capable(name):
                clouds.append(module.start_demo(stack, engine=True))
            else:
                if engine:
                    notes.append(f"{name}: no inventory engine in its fake yet: discovered per account")
                clouds.append(module.start_demo(stack))
        except ImportError as exc:
            notes.append(
                f"{name}: skipped ({exc.name or exc} is not installed; pip install 'origin-region-agent[{name}]')"
            )
        except Exception as exc:  # a broken fake must not spoil the rest of the demo
            notes.append(f"{name}: skipped ({exc.__class__.__name__}: {exc})")
    return clouds, notes


def build_demo(
    stack: contextlib.ExitStack, workdir: Path, clouds: list[str], *, engine: bool = False
) -> tuple[Path, dict[str, str], list[str]]:
    """Start everything; return the config path, the environment to run with, and notes."""
    from agent.sandbox.cloudflare import FakeCloudflare

    fake = FakeCloudflare(tokens=(DEMO_TOKEN,))
    base_url = fake.start()
    stack.callback(fake.stop)
    zone_id = fake.add_zone("demo.example", zone_id=DEMO_ZONE_ID)  # fixed: the demo's summary is reproducible
    started, notes = start_clouds(stack, clouds, engine=engine)

    inventory: dict[str, Any] = {}
    env = {"CLOUDFLARE_API_TOKEN": DEMO_TOKEN}
    origin_ips = [row[0] for row in STATIC_ROWS]
    for cloud in started:
        inventory[cloud.source] = cloud.config
        env.update(cloud.env)
        origin_ips.extend(cloud.origin_ips)
    static = workdir / "inventory.csv"
    static.write_text("ip,vendor,region,account\n" + "".join(",".join(r) + "\n" for r in STATIC_ROWS))
    inventory["static"] = {"path": str(static)}

    for number, ip in enumerate(origin_ips):
        fake.add_dns_record(zone_id, "AAAA" if ":" in ip else "A", f"origin{number}.demo.example", ip, proxied=True)
    fake.add_dns_record(zone_id, "A", "unknown.demo.example", "198.51.100.77", proxied=True)  # in no inventory
    fake.add_dns_record(zone_id, "A", "grey.demo.example", "198.51.100.78", proxied=False)  # not proxied: ignored
    fake.set_mapping(zone_id, "203.0.113.10", "aws", "eu-central-1")  # hand-made; create-only keeps it

    config = {
        "cloudflare": {"base_url": base_url},
        "zones": [{"name": "demo.example"}],
        "inventory": inventory,
        "policy": "create-only",
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, env, notes


def run_demo(*, output: str = "text", clouds: str = "all", engine: bool = False) -> int:
    """Plan, then apply, against the sandbox; print both. Returns the exit code of the apply run."""
    from agent.config import load_config
    from agent.pipeline import run
    from agent.report.text import render_text

    names = list(CLOUD_MODULES) if clouds == "all" else [c.strip() for c in clouds.split(",") if c.strip()]
    unknown = [n for n in names if n not in CLOUD_MODULES]
    if unknown:
        raise click.BadParameter(f"unknown cloud(s) {', '.join(unknown)}; choose from {', '.join(CLOUD_MODULES)}")
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="ora-demo-") as tmp:
        path, env, notes = build_demo(stack, Path(tmp), names, engine=engine)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            config = load_config(path, env=os.environ)
            planned = run(config.model_copy(update={"dry_run": True})).to_dict()
            applied = run(config).to_dict()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    document = {"plan": planned, "summary": applied, "notes": notes}
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    elif output == "yaml":
        from agent.report.tables import to_yaml

        click.echo(to_yaml(document), nl=False)
    elif output != "none":
        for note in notes:
            click.echo(f"note: {note}")
        click.echo("=== Plan (dry run) ===")
        click.echo(render_text(planned))
        click.echo("\n=== Applied ===")
        click.echo(render_text(applied))
    return int(applied["exit_code"])
