"""Thin Cloudflare API client: origin cloud region mappings (v2 and deprecated v1) and the zone/DNS/LB reads.

Only this package talks to api.cloudflare.com. Errors are `CloudflareError` subclasses (see `errors`); pacing is one
process-wide `RateLimiter` (see `ratelimit`); retries follow `retry`.
"""

from agent.cloudflare.auth import CloudflareCredentials
from agent.cloudflare.client import (
    BATCH_LIMIT,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ApiFamily,
    BatchResult,
    CloudflareClient,
)
from agent.cloudflare.errors import (
    CloudflareAPIError,
    CloudflareAuthError,
    CloudflareConnectionError,
    CloudflareError,
    InvalidOriginIP,
    MappingExists,
    MappingNotFound,
    PaginationError,
    RateLimited,
    TieredCacheDisabled,
    UnsupportedRegion,
    ZoneMappingLimit,
    ZoneNotFound,
)
from agent.cloudflare.ratelimit import RateLimiter, default_rate_limiter, set_default_rate_limiter

__all__ = [
    "BATCH_LIMIT",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ApiFamily",
    "BatchResult",
    "CloudflareAPIError",
    "CloudflareAuthError",
    "CloudflareClient",
    "CloudflareConnectionError",
    "CloudflareCredentials",
    "CloudflareError",
    "InvalidOriginIP",
    "MappingExists",
    "MappingNotFound",
    "PaginationError",
    "RateLimited",
    "RateLimiter",
    "TieredCacheDisabled",
    "UnsupportedRegion",
    "ZoneMappingLimit",
    "ZoneNotFound",
    "default_rate_limiter",
    "set_default_rate_limiter",
]
