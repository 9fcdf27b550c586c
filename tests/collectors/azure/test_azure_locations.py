"""Location names are normalised to ARM's programmatic names, the form Cloudflare's supported regions use."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import pytest
from azure_testkit import DATA

from agent.collectors.azure.locations import normalize_location

ARM_LOCATIONS = json.loads(gzip.decompress((DATA / "arm-subscription-locations.2026-03-12.json.gz").read_bytes()))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("eastus", "eastus"),
        ("East US", "eastus"),
        ("EastUS", "eastus"),
        ("  West Europe ", "westeurope"),
        ("(US) East US 2", "eastus2"),
        ("Central US (Stage)", "centralusstage"),
        ("United Kingdom", "uk"),
        ("", ""),
    ],
    ids=["name", "display-name", "camel", "padded", "regional-display-name", "stage", "spelled-out", "empty"],
)
def test_normalize_location(given: str, expected: str) -> None:
    """Display names and regional display names map to the ARM name."""
    assert normalize_location(given) == expected


def test_every_arm_display_name_maps_to_its_name() -> None:
    """For all locations of the real ARM List Locations response, both display forms normalise to `name`."""
    locations = ARM_LOCATIONS["value"]
    assert len(locations) > 90
    wrong = [
        (loc[key], loc["name"])
        for loc in locations
        for key in ("name", "displayName", "regionalDisplayName")
        if normalize_location(loc[key]) != loc["name"]
    ]
    assert wrong == []


def test_supported_azure_regions_are_arm_location_names() -> None:
    """Every Azure region id the agent knows (agent/data/regions.json) is an ARM location name, already normal."""
    regions = json.loads(resources.files("agent").joinpath("data/regions.json").read_text())["azure"]
    names = {loc["name"] for loc in ARM_LOCATIONS["value"]}
    assert regions and set(regions) <= names
    assert all(normalize_location(r) == r for r in regions)
