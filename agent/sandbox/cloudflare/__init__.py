"""A faithful local Cloudflare API for tests and the demo: origin cloud regions (v1 and v2), zones, DNS records,
load balancers, auth, pagination, rate limits and fault injection. See `FakeCloudflare`."""

from ._api import BATCH_MAX_ITEMS, DEFAULT_ACCOUNT_ID, VENDORS, CloudflareApi
from ._fake import MUTATING_METHODS, FakeCloudflare, RecordedRequest
from ._model import MESSAGES, ApiError
from ._regions import default_supported_regions, plausible_colos

__all__ = [
    "BATCH_MAX_ITEMS",
    "DEFAULT_ACCOUNT_ID",
    "MESSAGES",
    "MUTATING_METHODS",
    "VENDORS",
    "ApiError",
    "CloudflareApi",
    "FakeCloudflare",
    "RecordedRequest",
    "default_supported_regions",
    "plausible_colos",
]
