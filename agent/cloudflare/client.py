"""A thin, synchronous Cloudflare API client: wire format in, typed mappings out, typed errors, retries and pacing.

Scope: the origin cloud region mappings (v2 ``/origin/cloud_regions`` and the deprecated v1
``/cache/origin_cloud_regions``) plus the reads used to find a zone's origin IPs (zones, DNS records, load balancers,
pools). Mappings come back as `RegionMapping` (canonical IP: this is where an API IP enters the program) and batch
calls as `BatchResult`; zones, DNS records and pools stay dicts for `agent.origins` to read.

Every request goes through one path (`CloudflareClient._request`):

1. the process-wide `RateLimiter` hands out a slot (waiting on the injected clock if needed);
2. httpx sends it, with credentials added by an ``httpx.Auth`` at send time (never stored in client headers);
3. the response's rate-limit headers may pause the shared limiter; the envelope is checked and a failure becomes a
   typed `CloudflareError` (see `agent.cloudflare.errors`);
4. transient failures (408, 409, 429, 5xx, connection errors, timeouts; `x-should-retry` overrides) are retried by
   tenacity with the clock's `sleep`, honouring `Retry-After` (capped, see `agent.cloudflare.retry`).

Retried writes are safe: v2 PUT and v1 PATCH are idempotent upserts, deletes of an already deleted IP answer 1142
(`MappingNotFound`), and a v1 POST retried after a lost response answers 1145, surfaced as `MappingExists` for the
caller to treat as "already there".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import metadata
from typing import Any, Final, cast
from urllib.parse import quote, urlsplit

import httpx
import tenacity

from agent.clock import SYSTEM_CLOCK, Clock
from agent.cloudflare.auth import CloudflareAuth, CloudflareCredentials
from agent.cloudflare.errors import (
    CloudflareAPIError,
    CloudflareAuthError,
    CloudflareConnectionError,
    CloudflareError,
    PaginationError,
    RateLimited,
    TieredCacheDisabled,
    ZoneNotFound,
    error_from_envelope,
)
from agent.cloudflare.ratelimit import RateLimiter, default_rate_limiter
from agent.cloudflare.retry import (
    MAX_RETRY_AFTER,
    backoff,
    parse_rate_limit_wait,
    parse_retry_after,
    should_retry_status,
)
from agent.ip import InvalidIPError, canonical_ip
from agent.models import RegionMapping, Vendor

__all__ = [
    "BATCH_LIMIT",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "ApiFamily",
    "BatchResult",
    "CloudflareClient",
    "ItemFailure",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
DEFAULT_TIMEOUT = 30.0  # seconds for read/write/pool; connecting gets at most CONNECT_TIMEOUT
CONNECT_TIMEOUT = 5.0
DEFAULT_MAX_RETRIES = 4  # 5 attempts: with backoff 0.5+1+2+4 s ≈ 7.5 s of patience for a flapping API
BATCH_LIMIT = 100  # maxItems of every batch endpoint [SPEC]
MAX_RATELIMIT_PAUSE = 300.0  # a `Ratelimit: r=0;t=N` pause is honoured up to one full 5-minute window
MAX_PAGES = 10_000  # a list that has not ended after this many pages is broken, not big

# Page sizes: the largest value every source accepts, so that listings take the fewest requests.
MAPPINGS_PER_PAGE = 100  # v2 list: 1..100 [SPEC]
ZONES_PER_PAGE = 50  # /zones: 5..50 [SPEC]
# /dns_records: sources disagree on the maximum (100, 5,000 or 5,000,000, reference 7.2); 100 is valid under all of
# them, and an API that silently capped a larger value would make "short page = last page" guesses wrong.
DNS_RECORDS_PER_PAGE = 100

_ZONE_ID_RE = re.compile(r"[A-Za-z0-9]{1,32}")
_NO_BODY: Final = object()
_EXCERPT_CHARS = 200


def _version() -> str:
    try:
        return metadata.version("origin-region-agent")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


DEFAULT_USER_AGENT = f"origin-region-agent/{_version()}"


class ApiFamily(StrEnum):
    """Which origin cloud region endpoints to use. V1 is deprecated (EOL 2026-10-01) but has the create-only POST."""

    V1 = "v1"
    V2 = "v2"

    @property
    def prefix(self) -> str:
        return "cache/origin_cloud_regions" if self is ApiFamily.V1 else "origin/cloud_regions"


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One item of a batch the API refused: its IP, the API's message, and a code when the API gives one."""

    ip: str
    message: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outcome of one batch call. Every IP sent is in exactly one of `succeeded` (canonical IPs) and `failed`.

    Items the API did not mention at all are added to `failed` with an explanatory message rather than dropped.
    """

    succeeded: tuple[str, ...] = ()
    failed: tuple[ItemFailure, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed


class CloudflareClient:
    """See the module docstring. Thread-safe for concurrent calls (httpx.Client and the limiter are)."""

    def __init__(
        self,
        credentials: CloudflareCredentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        family: ApiFamily = ApiFamily.V2,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        rate_limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if not isinstance(credentials, CloudflareCredentials):
            raise TypeError("credentials must be a CloudflareCredentials")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"base_url {base_url!r} is not an http(s) URL")
        if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
            logger.warning("Cloudflare base_url %s is not HTTPS: credentials travel unencrypted", base_url)
        self.base_url = base_url.rstrip("/")
        self.family = ApiFamily(family)
        self.max_retries = max_retries
        self._credentials = credentials
        self._secrets = credentials.secrets()
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._limiter = rate_limiter or default_rate_limiter()
        if isinstance(timeout, httpx.Timeout):
            http_timeout = timeout
        else:
            http_timeout = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            auth=CloudflareAuth(credentials),
            timeout=http_timeout,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,  # a redirect would replay the credentials to wherever it points
        )
        self.requests_sent = 0  # attempts on the wire, retries included (for reports and the benchmark)

    # -- plumbing ---------------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"CloudflareClient(base_url={self.base_url!r}, family={self.family.value!r}, "
            f"auth={self._credentials.scheme!r})"
        )

    def __enter__(self) -> CloudflareClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        self._http.close()

    @property
    def rate_limiter(self) -> RateLimiter:
        return self._limiter

    def _scrub(self, text: str) -> str:
        """Remove our own secrets from text that came from elsewhere (a server echoing a header, a proxy page)."""
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = _NO_BODY
    ) -> dict[str, Any]:
        """Send one API call with pacing and retries; return the success envelope or raise a `CloudflareError`."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, CloudflareError) and exc.retryable),
            sleep=self._clock.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._attempt, method, path, params, body)

    @staticmethod
    def _retry_wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), MAX_RETRY_AFTER)
        return backoff(state.attempt_number - 1)

    @staticmethod
    def _log_retry(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning("Cloudflare request failed (%s); retry %d in %.2fs", exc, state.attempt_number, wait)

    def _attempt(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> dict[str, Any]:
        self._limiter.acquire()
        self.requests_sent += 1
        kwargs: dict[str, Any] = {}
        if params:
            kwargs["params"] = params
        if body is not _NO_BODY:
            kwargs["json"] = body
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CloudflareConnectionError(
                f"Cloudflare request timed out ({type(exc).__name__})", path=path, retryable=True
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise CloudflareConnectionError(
                f"Cloudflare connection failed ({type(exc).__name__}: {self._scrub(str(exc))})",
                path=path,
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise CloudflareConnectionError(
                f"Cloudflare request failed ({type(exc).__name__}: {self._scrub(str(exc))})", path=path
            ) from exc
        logger.debug("Cloudflare %s %s -> HTTP %d", method, path, response.status_code)
        return self._envelope(response, path)

    def _envelope(self, response: httpx.Response, path: str) -> dict[str, Any]:
        status = response.status_code
        headers = response.headers
        now = self._clock.time()
        quota_wait = parse_rate_limit_wait(headers, now)
        if quota_wait:
            self._limiter.pause_for(min(quota_wait, MAX_RATELIMIT_PAUSE))
        retry_after = parse_retry_after(headers, now)
        if status == 429 and retry_after:
            # Cloudflare's limit is per user: hold every client sharing the limiter, not only this one.
            self._limiter.pause_for(min(retry_after, MAX_RETRY_AFTER))
        try:
            body = response.json()
        except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
            body = None
        if isinstance(body, dict) and body.get("success") is True and 200 <= status < 300:
            return body
        retryable = should_retry_status(status, headers)
        exc: CloudflareError
        if isinstance(body, dict) and ("errors" in body or "success" in body):
            exc = error_from_envelope(status, body, path=path, retry_after=retry_after, scrub=self._scrub)
        else:
            excerpt = self._scrub(" ".join(response.text[: _EXCERPT_CHARS * 2].split()))[:_EXCERPT_CHARS]
            content_type = headers.get("content-type", "none")
            message = f"unexpected response, not a Cloudflare JSON envelope (content-type {content_type}): {excerpt!r}"
            cls: type[CloudflareError] = (
                RateLimited if status == 429 else CloudflareAuthError if status in (401, 403) else CloudflareAPIError
            )
            exc = cls(message, status=status, path=path, retry_after=retry_after)
        exc.retryable = retryable
        raise exc

    # -- paths and values -----------------------------------------------------------------------------------------

    @staticmethod
    def _id(value: str, what: str) -> str:
        if not isinstance(value, str) or not _ZONE_ID_RE.fullmatch(value):
            raise ValueError(f"{what} {value!r} is not a Cloudflare identifier (1-32 letters and digits)")
        return value

    def _mappings_path(self, zone_id: str, *rest: str) -> str:
        return "/".join(("zones", self._id(zone_id, "zone_id"), self.family.prefix, *rest))

    @staticmethod
    def _path_ip(ip: str) -> str:
        # canonical text has only hex digits, '.' and ':'; quoting ':' too keeps the segment unambiguous for any
        # server or proxy (the API URL-decodes the parameter, reference section 9).
        return quote(canonical_ip(ip), safe="")

    @staticmethod
    def _result(envelope: Mapping[str, Any], path: str, kind: type) -> Any:
        result = envelope.get("result")
        if not isinstance(result, kind):
            raise CloudflareAPIError(
                f"unexpected result type {type(result).__name__}, expected {kind.__name__}", status=200, path=path
            )
        return result

    def _unwrap_v1(self, envelope: Mapping[str, Any], path: str, kind: type) -> Any:
        """v1 wraps results in the zone setting ``{id, editable, value, modified_on}``: return ``value``."""
        result = self._result(envelope, path, dict)
        value = result.get("value")
        if not isinstance(value, kind):
            raise CloudflareAPIError(
                f"unexpected v1 setting value {type(value).__name__}, expected {kind.__name__}", status=200, path=path
            )
        return value

    @staticmethod
    def _entry_ip(raw: Mapping[str, Any]) -> str:
        ip = raw.get("origin_ip", raw.get("origin-ip"))
        if not isinstance(ip, str):
            raise ValueError(f"origin IP {ip!r} is not text")
        return canonical_ip(ip)

    def _entry(self, raw: Mapping[str, Any], path: str) -> RegionMapping:
        """A v1 (``origin-ip``) or v2 (``origin_ip``) entry as a `RegionMapping`; `CloudflareAPIError` if malformed."""
        try:
            ip = self._entry_ip(raw)
            vendor = Vendor(str(raw.get("vendor")))
        except (InvalidIPError, ValueError) as exc:
            raise CloudflareAPIError(f"unexpected mapping in the API response: {exc}", status=200, path=path) from None
        region, modified_on = raw.get("region"), raw.get("modified_on")
        if not isinstance(region, str) or not region:
            message = f"unexpected mapping in the API response: region {region!r}"
            raise CloudflareAPIError(message, status=200, path=path)
        return RegionMapping(ip, vendor, region, modified_on if isinstance(modified_on, str) else None)

    def _paginate(self, path: str, params: Mapping[str, Any], per_page: int) -> list[dict[str, Any]]:
        """Fetch every page of a V4PagePaginationArray list.

        Stops at ``page >= result_info.total_pages`` or at an empty page, whichever comes first (reference 1.4).
        Without `total_pages`, a page shorter than `per_page` is the last. A page identical to the previous one (the
        ``/accounts`` quirk, cloudflare-python #2584) never loops: if the items collected already reach
        `total_count` it is logged and ignored, otherwise `PaginationError` says the listing would be incomplete.
        """
        items: list[dict[str, Any]] = []
        previous: list[Any] | None = None
        page = 1
        while True:
            envelope = self._request("GET", path, params={**params, "page": page, "per_page": per_page})
            result = self._result(envelope, path, list)
            info = envelope.get("result_info")
            info = info if isinstance(info, dict) else {}
            if not result:
                break
            if result == previous:
                total = info.get("total_count")
                if isinstance(total, int) and len(items) >= total:
                    logger.warning("Cloudflare %s repeated page %d; all %d items already read", path, page, total)
                    break
                raise PaginationError(
                    f"page {page} repeats page {page - 1}; stopping with {len(items)} of "
                    f"{total if isinstance(total, int) else 'an unknown number of'} items",
                    status=200,
                    path=path,
                )
            items.extend(result)
            previous = result
            total_pages = info.get("total_pages")
            if isinstance(total_pages, int):
                if page >= total_pages:
                    break
            else:
                served = info.get("per_page")
                if len(result) < (served if isinstance(served, int) and served > 0 else per_page):
                    break
            page += 1
            if page > MAX_PAGES:
                raise PaginationError(f"no last page after {MAX_PAGES} pages", status=200, path=path)
        return items

    # -- discovery ------------------------------------------------------------------------------------------------

    def verify_token(self) -> dict[str, Any]:
        """Check the credentials: ``GET /user/tokens/verify`` for a token (``{id, status}``), ``GET /user`` for a
        global key (the verify endpoint only knows tokens)."""
        path = "user/tokens/verify" if self._credentials.scheme == "token" else "user"
        return cast(dict[str, Any], self._result(self._request("GET", path), path, dict))

    def zones(self, *, name: str | None = None, account_id: str | None = None) -> list[dict[str, Any]]:
        """Every zone visible to the credentials, optionally filtered by exact `name` and/or `account_id`."""
        params: dict[str, Any] = {}
        if name is not None:
            params["name"] = name
        if account_id is not None:
            params["account.id"] = self._id(account_id, "account_id")
        return self._paginate("zones", params, ZONES_PER_PAGE)

    def zone_id(self, name: str, *, account_id: str | None = None) -> str:
        """The id of the zone called `name`; `ZoneNotFound` when no such zone is visible.

        Several zones may share a name across accounts (pending copies); an active one wins, otherwise pass
        `account_id`.
        """
        wanted = name.strip().rstrip(".").lower()
        if not wanted:
            raise ValueError(f"zone name {name!r} is empty")
        zones = [z for z in self.zones(name=wanted, account_id=account_id) if str(z.get("name", "")).lower() == wanted]
        if len(zones) > 1:
            active = [z for z in zones if z.get("status") == "active"]
            zones = active or zones
        if not zones:
            raise ZoneNotFound(f"no zone named {name!r} is visible to these credentials", zone=name, path="zones")
        if len(zones) > 1:
            raise CloudflareAPIError(
                f"{len(zones)} zones are named {name!r}; pass account_id to choose one", path="zones"
            )
        return str(zones[0]["id"])

    def dns_records(
        self,
        zone_id: str,
        *,
        type: str | None = None,
        proxied: bool | None = None,
        name: str | None = None,
        content: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every DNS record of the zone (all pages), optionally filtered by `type`, `proxied`, exact `name` and
        exact `content` (an address: the deletion check asks "does any record still point here?").

        Page-number listings are not snapshots: a record deleted on an earlier page while later pages are read
        shifts the rest, and one record is never seen. Callers that act on absence re-verify (`agent.origins.verify`).
        """
        params: dict[str, Any] = {}
        if type is not None:
            params["type"] = type
        if proxied is not None:
            params["proxied"] = "true" if proxied else "false"
        if name is not None:
            params["name"] = name
        if content is not None:
            params["content"] = content
        return self._paginate(f"zones/{self._id(zone_id, 'zone_id')}/dns_records", params, DNS_RECORDS_PER_PAGE)

    def load_balancers(self, zone_id: str) -> list[dict[str, Any]]:
        """The zone's load balancers (not paginated)."""
        path = f"zones/{self._id(zone_id, 'zone_id')}/load_balancers"
        return cast(list[dict[str, Any]], self._result(self._request("GET", path), path, list))

    def pools(self, account_id: str) -> list[dict[str, Any]]:
        """The account's load-balancer pools with their `origins[]` (not paginated)."""
        path = f"accounts/{self._id(account_id, 'account_id')}/load_balancers/pools"
        return cast(list[dict[str, Any]], self._result(self._request("GET", path), path, list))

    # -- mappings -------------------------------------------------------------------------------------------------

    def list_mappings(self, zone_id: str) -> list[RegionMapping]:
        """Every mapping of the zone. An entry the API garbles is an error: a partial picture must not look whole."""
        path = self._mappings_path(zone_id)
        if self.family is ApiFamily.V1:
            value = self._unwrap_v1(self._request("GET", path), path, list)
        else:
            value = self._paginate(path, {}, MAPPINGS_PER_PAGE)
        return [self._entry(item, path) for item in value if isinstance(item, dict)]

    def get_mapping(self, zone_id: str, ip: str) -> RegionMapping:
        """One mapping; `MappingNotFound` when the IP (or the zone) has none."""
        path = self._mappings_path(zone_id, self._path_ip(ip))
        envelope = self._request("GET", path)
        raw = (
            self._unwrap_v1(envelope, path, dict) if self.family is ApiFamily.V1 else self._result(envelope, path, dict)
        )
        return self._entry(raw, path)

    def create_mapping(self, zone_id: str, ip: str, vendor: str, region: str) -> RegionMapping:
        """Create only (v1 POST): `MappingExists` when the IP is already mapped. v2 has no such call: `ValueError`."""
        if self.family is not ApiFamily.V1:
            raise ValueError("create_mapping needs ApiFamily.V1: v2 has no create-only call, use upsert_mapping")
        canonical = canonical_ip(ip)
        path = self._mappings_path(zone_id)
        body = {"ip": canonical, "vendor": str(vendor), "region": region}
        return self._entry(self._unwrap_v1(self._request("POST", path, body=body), path, dict), path)

    def upsert_mapping(self, zone_id: str, ip: str, vendor: str, region: str) -> RegionMapping:
        """Create or replace one mapping (v2 PUT /{ip}; v1 PATCH on the collection, which answers the whole list)."""
        canonical = canonical_ip(ip)
        if self.family is ApiFamily.V2:
            path = self._mappings_path(zone_id, self._path_ip(canonical))
            body = {"origin_ip": canonical, "vendor": str(vendor), "region": region}
            return self._entry(self._result(self._request("PUT", path, body=body), path, dict), path)
        path = self._mappings_path(zone_id)
        body = {"ip": canonical, "vendor": str(vendor), "region": region}
        envelope = self._request("PATCH", path, body=body)
        for raw in self._unwrap_v1(envelope, path, list):
            if isinstance(raw, dict):
                entry = self._entry(raw, path)
                if entry.ip == canonical:
                    return entry
        modified_on = self._result(envelope, path, dict).get("modified_on")
        return RegionMapping(canonical, Vendor(str(vendor)), region, modified_on)

    def delete_mapping(self, zone_id: str, ip: str) -> str:
        """Delete one mapping and return its canonical IP; `MappingNotFound` when there is none."""
        path = self._mappings_path(zone_id, self._path_ip(ip))
        envelope = self._request("DELETE", path)
        raw = (
            self._unwrap_v1(envelope, path, dict) if self.family is ApiFamily.V1 else self._result(envelope, path, dict)
        )
        try:
            return self._entry_ip(raw)
        except ValueError:
            return canonical_ip(ip)

    def batch_upsert(self, zone_id: str, mappings: Sequence[RegionMapping]) -> BatchResult:
        """Create or replace up to 100 mappings in one call (v2 PUT /batch, v1 PATCH /batch); others stay as they are.

        The IPs must be canonical (`RegionMapping` is made so where the IP enters the program; a non-canonical one is
        an `InvalidIPError` before any request); an IP twice in one batch is a `ValueError` because the API's
        handling of duplicates is undocumented.
        """
        ips = _check_batch([_canonical(m.ip) for m in mappings])
        if not ips:
            return BatchResult()
        path = self._mappings_path(zone_id, "batch")
        ip_key = "origin_ip" if self.family is ApiFamily.V2 else "ip"
        body = [{ip_key: m.ip, "vendor": m.vendor.value, "region": m.region} for m in mappings]
        method = "PUT" if self.family is ApiFamily.V2 else "PATCH"
        return self._batch_result(self._request(method, path, body=body), path, ips)

    def batch_delete(self, zone_id: str, ips: Sequence[str]) -> BatchResult:
        """Delete up to 100 mappings in one call; the body is the JSON array of IPs the spec requires (the SDKs send
        none, reference 3.6). Unknown IPs come back in `failed`."""
        if isinstance(ips, str):
            raise TypeError("batch_delete takes a sequence of IPs, not one string")
        canonical = _check_batch([_canonical(ip) for ip in ips])
        if not canonical:
            return BatchResult()
        path = self._mappings_path(zone_id, "batch")
        return self._batch_result(self._request("DELETE", path, body=list(canonical)), path, canonical)

    def _batch_result(self, envelope: Mapping[str, Any], path: str, sent: Sequence[str]) -> BatchResult:
        if self.family is ApiFamily.V1:
            result = self._unwrap_v1(envelope, path, dict)
        else:
            result = self._result(envelope, path, dict)
        succeeded: list[str] = []
        failed: list[ItemFailure] = []
        seen: set[str] = set()
        for key in ("succeeded", "failed"):
            raw_items = result.get(key)
            for raw in raw_items if isinstance(raw_items, list) else []:
                if not isinstance(raw, dict):
                    continue
                try:
                    ip = self._entry_ip(raw)
                except ValueError:
                    continue  # an item we cannot name: the IP it was for is reported as "not reported" below
                if ip in seen:
                    continue
                seen.add(ip)
                if key == "succeeded":
                    succeeded.append(ip)
                else:
                    error, code = raw.get("error"), raw.get("code")
                    message = self._scrub(str(error)) if error else "failed without an error message"
                    failed.append(ItemFailure(ip, message, code if isinstance(code, int) else None))
        for ip in sent:
            if ip not in seen:
                failed.append(ItemFailure(ip, "not reported in the API response"))
        if failed:
            logger.info("Cloudflare batch %s: %d succeeded, %d failed", path, len(succeeded), len(failed))
        return BatchResult(succeeded=tuple(succeeded), failed=tuple(failed))

    def supported_regions(self, zone_id: str) -> dict[str, set[str]]:
        """Vendor -> region names Cloudflare accepts for this zone.

        The call needs Tiered Cache on the zone; the error for "off" is undocumented (reference section 2), so any
        plain 4xx API error here (not auth, zone, rate limit or a known mapping code) becomes `TieredCacheDisabled`.
        """
        path = self._mappings_path(zone_id, "supported_regions")
        try:
            result = self._result(self._request("GET", path), path, dict)
        except CloudflareAPIError as exc:
            if type(exc) is CloudflareAPIError and exc.status is not None and 400 <= exc.status < 500:
                raise TieredCacheDisabled(
                    f"supported_regions refused, is Tiered Cache enabled on the zone? ({exc.message})",
                    status=exc.status,
                    codes=exc.codes,
                    messages=exc.messages,
                    path=exc.path,
                ) from exc
            raise
        vendors = result.get("vendors")
        regions: dict[str, set[str]] = {}
        for vendor, entries in (vendors if isinstance(vendors, dict) else {}).items():
            regions[str(vendor)] = {
                str(entry["name"])
                for entry in entries
                if isinstance(entry, dict) and isinstance(entry.get("name"), str)
            }
        return regions


def _canonical(ip: str) -> str:
    """The IP if it is canonical; `InvalidIPError` otherwise (the wire never carries an IP we did not check)."""
    canonical = canonical_ip(ip)
    if canonical != ip:
        raise InvalidIPError(ip, f"not in canonical form (expected {canonical!r})")
    return canonical


def _check_batch(ips: Iterable[str]) -> list[str]:
    ips = list(ips)
    if len(ips) > BATCH_LIMIT:
        raise ValueError(f"a batch holds at most {BATCH_LIMIT} items, got {len(ips)}")
    seen: set[str] = set()
    for ip in ips:
        if ip in seen:
            raise ValueError(f"IP {ip} appears twice in one batch")
        seen.add(ip)
    return ips
