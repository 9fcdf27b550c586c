"""Azure Service Tags region names → ARM locations, against the real feed and the real ARM locations list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from feeds_support import load_data  # type: ignore[import-not-found]

from agent.feeds.azure_regions import AzureRegionNames, build_table, default_names, main, physical_locations
from agent.models import Vendor

TABLE = Path(__file__).resolve().parents[2] / "agent" / "data" / "azure-region-names.json"


@pytest.fixture(scope="module")
def arm() -> Any:
    return load_data("arm-subscription-locations.2026-03-12.json.gz")


def test_every_azurecloud_tag_maps_to_an_arm_location_or_is_listed_unknown(
    feed_docs: dict[Vendor, Any], arm: Any
) -> None:
    """Each AzureCloud.<region> tag's region is a physical ARM location after translation, or explicitly unknown."""
    arm_names = set(physical_locations(arm))
    table = json.loads(TABLE.read_text())
    names = default_names()
    tags = [v for v in feed_docs[Vendor.AZURE]["values"] if v["name"].startswith("AzureCloud.")]
    assert len(tags) == 69
    unknown = []
    for tag in tags:
        region, known = names.normalize(tag["properties"]["region"])
        if known:
            assert region in arm_names, tag["name"]
        else:
            assert region == tag["properties"]["region"]  # kept as written, never guessed
            unknown.append(region)
    assert sorted(unknown) == sorted(set(table["unknown"]) & set(unknown))
    assert set(unknown) <= set(table["unknown"])


@pytest.mark.parametrize(
    ("feed", "arm_name"),
    [
        ("germanywc", "germanywestcentral"),
        ("germanyn", "germanynorth"),
        ("switzerlandn", "switzerlandnorth"),
        ("switzerlandw", "switzerlandwest"),
        ("norwaye", "norwayeast"),
        ("norwayw", "norwaywest"),
        ("centralfrance", "francecentral"),
        ("southfrance", "francesouth"),
        ("brazilse", "brazilsoutheast"),
        ("chilec", "chilecentral"),
        ("westeurope", "westeurope"),
        ("eastus2euap", "eastus2euap"),
        ("southindia", "southindia"),  # an ARM name that starts with a direction stays as it is
    ],
)
def test_translation(feed: str, arm_name: str) -> None:
    """The abbreviated and direction-first Service Tags names translate to the ARM names."""
    assert default_names().normalize(feed) == (arm_name, True)


def test_unknown_names_are_reported_not_guessed() -> None:
    """A name no rule derives comes back as written, flagged unknown; overrides take precedence over rules."""
    names = AzureRegionNames(["eastus", "westus"], overrides={"usstagee": "eastus"})
    assert names.normalize("taiwannorth") == ("taiwannorth", False)
    assert names.normalize("usstagee") == ("eastus", True)
    assert names.normalize("eastus") == ("eastus", True)


def test_packaged_table_is_what_the_generator_builds(feed_docs: dict[Vendor, Any], arm: Any) -> None:
    """agent/data/azure-region-names.json is exactly the generator's output for the ARM list + feed in tests/data."""
    assert json.loads(TABLE.read_text()) == build_table(arm, feed_docs[Vendor.AZURE])


def test_generator_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m agent.feeds.azure_regions ARM.json`` prints the table; bad usage exits 2."""
    data = Path(__file__).resolve().parent.parent / "data" / "arm-subscription-locations.2026-03-12.json.gz"
    assert main([str(data)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "germanywestcentral" in printed["arm_locations"] and "europe" not in printed["arm_locations"]
    assert main([]) == 2
