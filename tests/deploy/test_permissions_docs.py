"""The permission lists users read (README, SAM template, deploy notes, `init`) are agent/permissions.py's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent import permissions
from agent.init_cmd import render_config

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "deploy").rglob("*") if p.is_file())]


def block(name: str) -> str:
    match = re.search(rf"<!-- permissions:{name}:begin -->\n(.*?)\n<!-- permissions:{name}:end -->", README, re.S)
    assert match, f"README lacks the permissions:{name} block"
    return match.group(1)


def test_readme_blocks_are_rendered_from_the_module():
    """Regenerate with the functions in agent/permissions.py when this fails."""
    assert block("cloudflare") == permissions.cloudflare_markdown()
    assert block("clouds") == permissions.markdown_table()


def test_init_says_what_the_readme_says_about_the_token():
    """`init` lists the same token permissions, and calls the unconfirmed one unconfirmed."""
    text = render_config([])
    for line in permissions.init_comment_lines():
        assert line in text
    unconfirmed = [p.group for p in permissions.CLOUDFLARE if not p.confirmed]
    assert unconfirmed and all(f"{group} (unconfirmed" in text for group in unconfirmed)


def mentioned(pattern: str) -> dict[str, set[str]]:
    """Every match of `pattern` in the README and deploy/ files, by file."""
    found: dict[str, set[str]] = {}
    for path in DOCS:
        for match in re.findall(pattern, path.read_text(errors="replace")):
            found.setdefault(str(path.relative_to(ROOT)), set()).add(match)
    return found


# Named elsewhere on purpose: the Lambda's own secret, the EKS Pod Identity role's trust policy (what pods.eks may
# do, not what the agent does), and the `ranges` source's Azure Service Tags discovery.
NOT_INVENTORY = {"secretsmanager:GetSecretValue", "sts:TagSession", "Microsoft.Network/locations/serviceTags/read"}


@pytest.mark.parametrize(
    ("cloud", "pattern"),
    [
        ("aws", r"\b((?:ec2|organizations|sts|iam):[A-Z][A-Za-z]+)"),
        ("gcp", r"\b((?:compute|resourcemanager|iam)\.(?!googleapis|gke|gserviceaccount)[a-zA-Z]+\.[a-zA-Z]+)\b"),
        ("azure", r"\b(Microsoft\.[A-Za-z]+/[A-Za-z/]+/(?:read|write|action))\b"),
        ("oci", r"\bto ((?:inspect|read|use|manage) [a-z0-9-]+) in\b"),
    ],
)
def test_no_other_permission_list_anywhere(cloud, pattern):
    """No document names a permission of this cloud that the module does not list (three lists would drift)."""
    perms = permissions.CLOUDS[cloud]
    allowed = set(perms.permissions) | set(perms.free_operations) | NOT_INVENTORY
    if cloud == "oci":
        allowed.add("read virtual-network-family")  # the documented shortcut that covers the `read` grants
    stray = {path: names - allowed for path, names in mentioned(pattern).items() if names - allowed}
    assert stray == {}


@pytest.mark.parametrize("cloud", sorted(permissions.CLOUDS))
def test_init_lists_each_found_clouds_grants(cloud):
    """A cloud `init` finds gets the module's grant list as a comment in its section."""
    from agent.init_cmd import Finding

    text = render_config([Finding(source=cloud, evidence=("test",))])
    line = permissions.cloud_comment_line(cloud)
    assert line in text
    assert all(grant in line for grant in permissions.CLOUDS[cloud].permissions)
