"""Azure location names as Cloudflare expects them: the ARM ``name`` form (``eastus``), never a display name.

ARM returns ``location`` as the programmatic name on almost every resource, but older resources and some tools
carry the display name (``East US``) or the regional display name (``(US) East US``). ARM's List Locations maps
``displayName`` / ``regionalDisplayName`` → ``name``; for every physical region that mapping is "drop the
``(Geography)`` prefix, lower-case, keep letters and digits", and the two logical regions whose display name is
spelled out are listed below.
"""

from __future__ import annotations

import re

__all__ = ["normalize_location"]

_GEOGRAPHY_PREFIX = re.compile(r"^\([^)]*\)\s*")
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_SPELLED_OUT = {"unitedarabemirates": "uae", "unitedkingdom": "uk"}  # ARM List Locations: displayName -> name


def normalize_location(value: str) -> str:
    """``"East US"``, ``"(US) East US"``, ``"eastus"`` → ``"eastus"``; ``"Central US (Stage)"`` → ``"centralusstage"``.

    Returns "" for an empty or missing location.
    """
    text = _NON_ALNUM.sub("", _GEOGRAPHY_PREFIX.sub("", (value or "").strip()).lower())
    return _SPELLED_OUT.get(text, text)
