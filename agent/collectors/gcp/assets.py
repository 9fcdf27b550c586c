"""Engine mode of the GCP source: Cloud Asset Inventory ``ListAssets`` over an organization, folder or project.

Why ``ListAssets`` with ``contentType=RESOURCE`` and not ``SearchAllResources``: only ListAssets returns the resource
itself, ``asset.resource.data`` being the Compute v1 JSON (``address``, ``natIP``, ``externalIpv6``, ``IPAddress``,
``region``/``zone``) plus ``resource.location``. Search returns a summary whose address sits in
``additionalAttributes``, documented as unstable and not for programmatic use, or in ``versionedResources`` only when
asked for. ListAssets also pages up to 1,000 assets per call (search: 500).

The Compute JSON is parsed into google-cloud-compute's own messages, so that the per-project mode's record builders
(`agent.collectors.gcp.records`) apply unchanged: both modes yield the same records. Each record carries the asset's
``updateTime`` (else the answer's ``readTime``) as `CloudAddress.observed_at`. google-cloud-asset is imported only
when this mode runs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from google.cloud import compute_v1
from google.protobuf import json_format

from agent.collectors.gcp.records import address_records, forwarding_rule_records, instance_records
from agent.models import CloudAddress

__all__ = ["ASSET_TYPES", "asset_records", "list_asset_records"]

logger = logging.getLogger(__name__)

# asset type -> (Compute message, record builder, aggregated-list scope kind of its location)
_TYPES: dict[str, tuple[Any, Callable[[str, str, Any], Iterator[CloudAddress]], str]] = {
    "compute.googleapis.com/Address": (compute_v1.Address, address_records, "regions"),
    "compute.googleapis.com/GlobalAddress": (compute_v1.Address, address_records, "regions"),
    "compute.googleapis.com/Instance": (compute_v1.Instance, instance_records, "zones"),
    "compute.googleapis.com/ForwardingRule": (compute_v1.ForwardingRule, forwarding_rule_records, "regions"),
    "compute.googleapis.com/GlobalForwardingRule": (compute_v1.ForwardingRule, forwarding_rule_records, "regions"),
}
ASSET_TYPES = tuple(_TYPES)


def _project_of(asset_name: str) -> str:
    """``//compute.googleapis.com/projects/p1/regions/r/addresses/a`` → ``p1``, or "" when it names no project."""
    parts = asset_name.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "projects":
            return parts[i + 1]
    return ""


def _utc(value: Any) -> datetime | None:
    """A proto-plus timestamp (a datetime, or None/epoch when unset) as an aware UTC datetime."""
    if not isinstance(value, datetime) or value.timestamp() <= 0:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def asset_records(asset: Any, read_time: datetime | None) -> list[CloudAddress]:
    """The records of one `google.cloud.asset_v1.Asset` (empty for other types or assets without an external IP)."""
    known = _TYPES.get(asset.asset_type)
    project = _project_of(asset.name)
    if known is None or not project:
        return []
    message_type, to_records, scope_kind = known
    data = json_format.MessageToDict(type(asset.resource).pb(asset.resource).data)
    item = message_type.wrap(json_format.ParseDict(data, message_type.pb()(), ignore_unknown_fields=True))
    location = asset.resource.location
    scope_key = "global" if not location or location == "global" else f"{scope_kind}/{location}"
    observed = _utc(asset.update_time) or read_time
    return [dataclasses.replace(r, observed_at=observed) for r in to_records(project, scope_key, [item])]


def list_asset_records(client: Any, request: Any, **call: Any) -> Iterator[tuple[str, list[CloudAddress]]]:
    """``(project, records)`` per asset of every page of `request` (a ListAssetsRequest); raises on any failed page."""
    for page in client.list_assets(request=request, **call).pages:
        read_time = _utc(page.read_time)
        for asset in page.assets:
            yield _project_of(asset.name), asset_records(asset, read_time)
