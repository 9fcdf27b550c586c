"""Structural promises of the typed core, checked on the source: they keep the next change easy."""

from __future__ import annotations

import ast
import re
from pathlib import Path

AGENT = Path(__file__).parents[1] / "agent"
WORDS = "create|update|delete|applied|planned|failed|skipped|exists|conflict|pending"
FREE_STRING_COMPARISON = re.compile(rf"""(==|!=|\bin)\s*[(\[{{]?\s*["']({WORDS})["']|["']({WORDS})["']\s*(==|!=)""")


def sources(*, skip: tuple[str, ...] = ("sandbox",)) -> dict[Path, str]:
    return {
        path: path.read_text()
        for path in AGENT.rglob("*.py")
        if not any(part in skip for part in path.relative_to(AGENT).parts)
    }


def test_no_free_string_comparison_of_actions_or_outcomes() -> None:
    found = [
        f"{path.relative_to(AGENT)}:{number}: {line.strip()}"
        for path, text in sources().items()
        for number, line in enumerate(text.splitlines(), 1)
        if FREE_STRING_COMPARISON.search(line)
    ]
    assert found == []


def test_the_checker_finds_what_it_looks_for() -> None:
    assert FREE_STRING_COMPARISON.search('if c["status"] == "failed":')
    assert FREE_STRING_COMPARISON.search('if change.action in ("create", "update"):')
    assert not FREE_STRING_COMPARISON.search("if result.outcome is Outcome.FAILED:")


def test_apply_has_no_api_family_branch() -> None:
    """The code of apply.py (its docstring may explain the design) names no API family."""
    tree = ast.parse((AGENT / "apply.py").read_text())
    names = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]
    names += [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert names and not [n for n in names if re.search(r"family|Family|V1|V2|v1|v2", n)]
    assert not [s for s in strings if s in ("v1", "v2")]


def test_handlers_build_no_summary_by_hand() -> None:
    for path in (AGENT / "handlers").glob("*.py"):
        text = path.read_text()
        assert '"version":' not in text and "SCHEMA_VERSION" not in text, path.name
        assert not re.search(r"""json\.dumps\(\{\s*["']error["']""", text), path.name
