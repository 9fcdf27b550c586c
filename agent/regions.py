"""Region names as each vendor spells them canonically, so that sources agree on the same region.

People and exports write ``US-EAST-1``, ``WestEurope`` or ``West Europe``; the APIs (and Cloudflare's supported
regions) use ``us-east-1`` and ``westeurope``. Every vendor's canonical names are lower case; Azure's have no spaces
(its display names do). A case-only difference between two sources is therefore the same region, not `ambiguous`.
"""

from __future__ import annotations

__all__ = ["normalise_region"]


def normalise_region(vendor: str, region: str, *, keep: frozenset[str] = frozenset()) -> str:
    """The canonical spelling of `region` for `vendor` (``aws``, ``gcp``, ``azure``, ``oci``); values in `keep`
    (sentinels such as the global pseudo-region) are returned unchanged."""
    if region in keep:
        return region
    name = region.strip().lower()
    if vendor == "azure":
        name = "".join(name.split())
    return name
