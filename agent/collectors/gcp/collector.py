"""GCP collector: external IPs of Compute Engine projects, with their regions (google-cloud-compute, REST).

Scopes:

* ``gcp:<project-id>`` (leaf): one project. Five paged calls: aggregated addresses, instances and forwarding rules,
  global addresses and global forwarding rules. The project's records are yielded only once every call succeeded, so a
  failed project contributes nothing rather than a partial inventory.
* ``gcp:folders/N`` / ``gcp:organizations/N`` (non-leaf): Resource Manager v3 ``projects.list(parent=…)`` yields the
  ACTIVE projects directly under it, ``folders.list(parent=…)`` yields its sub-folders as further non-leaf scopes.
* ``gcp:all-projects`` (non-leaf, when no project, folder or organization is configured): ``projects.search`` for
  every ACTIVE project the credential can see.

* ``gcp:asset_inventory/<scope>`` (leaf, ``mode: asset_inventory``): one paged ``ListAssets`` over the configured
  organization, folder or project (see `agent.collectors.gcp.assets`). Its records are yielded only once every page
  arrived: a failed or cut-short answer contributes nothing and the run is incomplete (no deletes).

A project reachable twice (an organization and one of its folders both configured) is collected once. The SDK is
imported here only: ``from google.cloud import compute_v1`` costs about 0.8 s.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import google.auth
import google.auth.exceptions
import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import impersonated_credentials
from google.cloud import compute_v1, resourcemanager_v3
from google.oauth2 import service_account
from pydantic import ValidationError

from agent.clock import SYSTEM_CLOCK, Clock
from agent.collectors.base import Collector
from agent.collectors.gcp.config import DEFAULT_IAM_CREDENTIALS_ENDPOINT, GcpConfig
from agent.collectors.gcp.records import address_records, forwarding_rule_records, instance_records
from agent.errors import CollectorError, ConfigError
from agent.models import CloudAddress, Scope

__all__ = ["READ_SCOPES", "GcpCollector"]

logger = logging.getLogger(__name__)

SOURCE = "gcp"
ALL_PROJECTS = "all-projects"
ASSET_INVENTORY = "asset_inventory"  # first path element of the engine-mode scope
# compute.readonly covers the compute list calls, cloud-platform.read-only the Resource Manager ones.
READ_SCOPES = (
    "https://www.googleapis.com/auth/compute.readonly",
    "https://www.googleapis.com/auth/cloud-platform.read-only",
)
# iamcredentials.generateAccessToken accepts only cloud-platform (or iam) on the caller's token.
IMPERSONATION_SOURCE_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TOKEN_LIFETIME_SECONDS = 3600
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
_TRANSIENT_API_ERRORS = (
    api_exceptions.TooManyRequests,
    api_exceptions.InternalServerError,
    api_exceptions.BadGateway,
    api_exceptions.ServiceUnavailable,
    api_exceptions.GatewayTimeout,
)

T = TypeVar("T")


def _error_reasons(exc: api_exceptions.GoogleAPICallError) -> list[str]:
    """Machine-readable reasons, most specific first: ErrorInfo ``reason`` (``SERVICE_DISABLED``), then the legacy
    ``errors[].reason`` (``accessNotConfigured``, ``forbidden``), then the status (``PERMISSION_DENIED``)."""
    reasons: list[str] = []
    if exc.reason:
        reasons.append(exc.reason)
    for err in exc.errors:
        if isinstance(err, dict) and err.get("reason"):
            reasons.append(str(err["reason"]))
    response = exc.response
    if not reasons and response is not None:
        try:
            status = response.json().get("error", {}).get("status")
        except (ValueError, AttributeError):
            status = None
        if status:
            reasons.append(str(status))
    return list(dict.fromkeys(reasons))


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: 429, 5xx, a rate-limit 403 (Compute's legacy quota errors), a dropped connection."""
    if isinstance(exc, _TRANSIENT_API_ERRORS):
        return True
    if isinstance(exc, api_exceptions.Forbidden):
        return bool(_RATE_LIMIT_REASONS.intersection(_error_reasons(exc)))
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


class _Retry:
    """A retry decorator in the shape google-api-core applies (``retry(func)``), with attempts and injectable time.

    api-core's own ``Retry`` is deadline-based and sleeps with ``time.sleep``; this one bounds attempts and sleeps on
    the collector's `Clock`, so tests of the 429 path take no wall time.
    """

    def __init__(self, *, attempts: int, initial: float, maximum: float, clock: Clock, rng: random.Random) -> None:
        self._attempts = attempts
        self._initial = initial
        self._maximum = maximum
        self._clock = clock
        self._rng = rng

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): capped exponential, jittered."""
        backoff: float = min(self._maximum, self._initial * 2.0 ** (attempt - 1))
        return backoff * self._rng.uniform(0.5, 1.0)

    def __call__(self, func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> T:
            attempt = 1
            while True:
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if attempt >= self._attempts or not is_transient(exc):
                        raise
                    wait = self.delay(attempt)
                    logger.info("gcp: transient %s, retry %d in %.1fs", type(exc).__name__, attempt, wait)
                    self._clock.sleep(wait)
                    attempt += 1

        return call


@dataclass
class _Clients:
    """One thread's SDK clients: requests sessions are not shared between threads."""

    addresses: Any
    instances: Any
    forwarding_rules: Any
    global_addresses: Any
    global_forwarding_rules: Any
    projects: Any
    folders: Any

    def close(self) -> None:
        for client in vars(self).values():
            try:
                client.transport.close()
            except Exception:  # pragma: no cover - closing is best effort
                logger.debug("gcp: closing a client failed", exc_info=True)


def _check_key_file(path: str) -> None:
    """A service-account key file, or a ConfigError naming the field and the path (never the file's content)."""
    field = "inventory.gcp.credentials_file"
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"{field}: {path!r} cannot be read: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{field}: {path!r} is not JSON") from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "service_account":
        raise ConfigError(
            f"{field}: {path!r} holds credentials of type {kind!r}, not a service-account key; for other credential"
            " types (authorized_user, external_account) set GOOGLE_APPLICATION_CREDENTIALS instead"
        )
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{field}: {path!r} lacks {', '.join(missing)}")


class GcpCollector(Collector):
    """See `Collector`. Lists external addresses, instance access configs and external forwarding rules."""

    source = SOURCE

    def __init__(
        self,
        config: GcpConfig,
        *,
        credentials: Any = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        """`credentials`: an explicit google-auth credentials object (embedding, tests); else from `config`."""
        self._config = config
        self._explicit_credentials = credentials
        self._retry = _Retry(
            attempts=config.retry.max_attempts,
            initial=config.retry.initial_backoff_seconds,
            maximum=config.retry.max_backoff_seconds,
            clock=clock,
            rng=rng or random.Random(),
        )
        self._lock = threading.Lock()
        self._credentials: Any = None
        self._credentials_error: CollectorError | None = None
        self._local = threading.local()
        self._all_clients: list[_Clients] = []
        self._asset_clients: list[Any] = []
        self._seen: set[str] = set()  # project ids and folder names already handed out as scopes
        # return_partial_success is not in google-cloud-compute 1.57's aggregated-list requests; newer ones have it.
        self._partial: dict[str, bool] = (
            {"return_partial_success": True}
            if "return_partial_success" in compute_v1.AggregatedListAddressesRequest.meta.fields
            else {}
        )

    @classmethod
    def from_config(cls, config: GcpConfig | dict[str, Any]) -> GcpCollector:
        """Build from the ``inventory.gcp`` section (a `GcpConfig`, or its plain dict)."""
        if not isinstance(config, GcpConfig):
            try:
                config = GcpConfig.model_validate(config or {})
            except ValidationError as exc:
                raise ConfigError(f"inventory.gcp: {exc}") from None
        if config.credentials_file:
            _check_key_file(config.credentials_file)
        return cls(config)

    # --- scopes ---------------------------------------------------------------------------------------------------

    def scopes(self) -> Iterator[Scope]:
        """Explicit projects as leaves; folders, organizations or the all-projects search as non-leaf roots."""
        cfg = self._config
        with self._lock:
            self._seen = set()
        if cfg.mode == "asset_inventory":
            if cfg.projects or cfg.folders or cfg.organizations:
                logger.info("gcp: mode asset_inventory: 'projects', 'folders' and 'organizations' are not used")
            yield Scope(SOURCE, (ASSET_INVENTORY, str(cfg.scope)), leaf=True)
            return
        for project in cfg.projects:
            if self._claim(project):
                yield Scope(SOURCE, (project,), leaf=True)
        for parent in (*cfg.organizations, *cfg.folders):
            if self._claim_folder(parent):
                yield Scope(SOURCE, (parent,), leaf=False)
        if not (cfg.projects or cfg.organizations or cfg.folders):
            yield Scope(SOURCE, (ALL_PROJECTS,), leaf=False)

    def _excluded(self, project: str) -> bool:
        return any(fnmatch.fnmatchcase(project, pattern) for pattern in self._config.exclude_projects)

    def _claim(self, project: str) -> bool:
        """True the first time a (non-excluded) project is seen in this run: it becomes a scope exactly once."""
        if self._excluded(project):
            logger.debug("gcp: project %s excluded", project)
            return False
        with self._lock:
            if project in self._seen:
                return False
            self._seen.add(project)
            return True

    def _claim_folder(self, name: str) -> bool:
        with self._lock:
            if name in self._seen:
                return False
            self._seen.add(name)
            return True

    # --- collect --------------------------------------------------------------------------------------------------

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        """See `Collector.collect`. A project yields its records; a folder/organization/search yields scopes."""
        name = scope.path[-1]
        work: Callable[[], list[CloudAddress | Scope]]
        if scope.path[0] == ASSET_INVENTORY:
            what = f"asset inventory {name}"
            work = functools.partial(self._asset_records, name)
        elif scope.leaf:
            what = f"project {name}"
            work = functools.partial(self._project_records, name)
        elif name == ALL_PROJECTS:
            what = "projects.search"
            work = self._search_projects
        else:
            what = name
            work = functools.partial(self._children, name)
        try:
            items = work()
        except CollectorError:
            raise
        except api_exceptions.GoogleAPICallError as exc:
            reasons = _error_reasons(exc)
            code = reasons[0] if reasons else str(exc.code or type(exc).__name__)
            raise CollectorError(
                f"{what}: HTTP {exc.code} {'/'.join(reasons)}: {exc.message}", vendor=SOURCE, code=code
            ) from exc
        except google.auth.exceptions.GoogleAuthError as exc:
            raise CollectorError(f"{what}: credentials: {exc}", vendor=SOURCE, code=type(exc).__name__) from exc
        except requests.RequestException as exc:
            raise CollectorError(f"{what}: {exc}", vendor=SOURCE, code=type(exc).__name__) from exc
        yield from items

    def _project_records(self, project: str) -> list[CloudAddress | Scope]:
        clients = self._clients()
        cfg = self._config
        call = {"retry": self._retry, "timeout": cfg.timeout_seconds}
        out: list[CloudAddress | Scope] = []
        seen: set[tuple[str, str]] = set()

        def add(records: Iterator[CloudAddress]) -> None:
            for record in records:
                key = (record.ip, record.resource_id)
                if key not in seen:  # global items come both in aggregated lists and in the global lists
                    seen.add(key)
                    out.append(record)

        aggregated = [
            (clients.addresses, compute_v1.AggregatedListAddressesRequest, "addresses", address_records),
            (clients.instances, compute_v1.AggregatedListInstancesRequest, "instances", instance_records),
            (
                clients.forwarding_rules,
                compute_v1.AggregatedListForwardingRulesRequest,
                "forwarding_rules",
                forwarding_rule_records,
            ),
        ]
        for client, request_type, field, to_records in aggregated:
            request = request_type(project=project, max_results=cfg.page_size, **self._partial)
            for page in client.aggregated_list(request=request, **call).pages:
                if page.unreachables:  # only with return_partial_success: some scopes could not be listed
                    raise CollectorError(
                        f"project {project}: {field} unreachable in {', '.join(page.unreachables)}",
                        vendor=SOURCE,
                        code="UNREACHABLE",
                    )
                for key, scoped in page.items.items():
                    add(to_records(project, key, getattr(scoped, field)))
        global_lists = [
            (clients.global_addresses, compute_v1.ListGlobalAddressesRequest, address_records),
            (clients.global_forwarding_rules, compute_v1.ListGlobalForwardingRulesRequest, forwarding_rule_records),
        ]
        for client, request_type, to_records in global_lists:
            pager = client.list(request=request_type(project=project, max_results=cfg.page_size), **call)
            add(to_records(project, "global", pager))
        logger.debug("gcp: project %s: %d addresses", project, len(out))
        return out

    def _asset_records(self, parent: str) -> list[CloudAddress | Scope]:
        """Every external address under `parent` from Cloud Asset Inventory; all pages or nothing."""
        from google.cloud import asset_v1  # only engine-mode runs pay for this import

        from agent.collectors.gcp.assets import ASSET_TYPES, list_asset_records

        cfg = self._config
        client = self._asset_client(asset_v1)
        request = asset_v1.ListAssetsRequest(
            parent=parent,
            asset_types=list(ASSET_TYPES),
            content_type=asset_v1.ContentType.RESOURCE,
            page_size=cfg.asset_page_size,
        )
        out: list[CloudAddress | Scope] = []
        seen: set[tuple[str, str]] = set()
        for project, records in list_asset_records(client, request, retry=self._retry, timeout=cfg.timeout_seconds):
            if not records or self._excluded(project):
                continue
            for record in records:
                if (record.ip, record.resource_id) not in seen:
                    seen.add((record.ip, record.resource_id))
                    out.append(record)
        logger.debug("gcp: asset inventory %s: %d addresses", parent, len(out))
        return out

    def _asset_client(self, asset_v1: Any) -> Any:
        client = getattr(self._local, "asset_client", None)
        if client is None:
            client = asset_v1.AssetServiceClient(
                credentials=self._credentials_for_clients(),
                transport="rest",
                client_options=ClientOptions(api_endpoint=self._config.asset_endpoint),
            )
            self._local.asset_client = client
            with self._lock:
                self._asset_clients.append(client)
        return client

    def _children(self, parent: str) -> list[CloudAddress | Scope]:
        """Projects directly under `parent` (leaves) and its sub-folders (non-leaf). Claimed only once both listings
        succeeded, so a parent that fails half-way does not hide its projects from another configured root."""
        clients = self._clients()
        cfg = self._config
        call = {"retry": self._retry, "timeout": cfg.timeout_seconds}
        request = resourcemanager_v3.ListProjectsRequest(parent=parent, page_size=cfg.page_size)
        projects = [
            p.project_id
            for p in clients.projects.list_projects(request=request, **call)
            if p.state == resourcemanager_v3.Project.State.ACTIVE
        ]
        folder_request = resourcemanager_v3.ListFoldersRequest(parent=parent, page_size=cfg.page_size)
        folders = [
            f.name
            for f in clients.folders.list_folders(request=folder_request, **call)
            if f.state == resourcemanager_v3.Folder.State.ACTIVE
        ]
        out: list[CloudAddress | Scope] = [Scope(SOURCE, (p,), leaf=True) for p in projects if self._claim(p)]
        out += [Scope(SOURCE, (f,), leaf=False) for f in folders if self._claim_folder(f)]
        return out

    def _search_projects(self) -> list[CloudAddress | Scope]:
        """Every ACTIVE project the credential may get (``projects.search`` with ``state:ACTIVE``)."""
        clients = self._clients()
        cfg = self._config
        request = resourcemanager_v3.SearchProjectsRequest(query="state:ACTIVE", page_size=cfg.page_size)
        pager = clients.projects.search_projects(request=request, retry=self._retry, timeout=cfg.timeout_seconds)
        projects = [p.project_id for p in pager if p.state == resourcemanager_v3.Project.State.ACTIVE]
        return [Scope(SOURCE, (p,), leaf=True) for p in projects if self._claim(p)]

    # --- credentials and clients ------------------------------------------------------------------------------------

    def _credentials_for_clients(self) -> Any:
        """The run's credentials, loaded once (thread-safe); a failure is remembered and raised for every scope."""
        with self._lock:
            if self._credentials is None and self._credentials_error is None:
                try:
                    self._credentials = self._load_credentials()
                except google.auth.exceptions.GoogleAuthError as exc:
                    self._credentials_error = CollectorError(
                        f"credentials: {exc}", vendor=SOURCE, code=type(exc).__name__
                    )
            if self._credentials_error is not None:
                raise CollectorError(
                    str(self._credentials_error), vendor=SOURCE, code=self._credentials_error.code
                ) from self._credentials_error
            return self._credentials

    def _load_credentials(self) -> Any:
        cfg = self._config
        impersonate = cfg.impersonate_service_account
        scopes = list(IMPERSONATION_SOURCE_SCOPES if impersonate else READ_SCOPES)
        if self._explicit_credentials is not None:
            base = self._explicit_credentials
        elif cfg.credentials_file:
            # The type-specific loader: a generic one would also run executables named in an untrusted file.
            base = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                cfg.credentials_file, scopes=scopes
            )
            if cfg.quota_project:
                base = base.with_quota_project(cfg.quota_project)
        else:
            base, _ = google.auth.default(scopes=scopes, quota_project_id=cfg.quota_project)
        if not impersonate:
            return base
        iam = cfg.iam_credentials_endpoint or DEFAULT_IAM_CREDENTIALS_ENDPOINT
        return impersonated_credentials.Credentials(  # type: ignore[no-untyped-call]
            source_credentials=base,
            target_principal=impersonate,
            target_scopes=list(READ_SCOPES),
            delegates=list(cfg.impersonation_delegates) or None,
            lifetime=TOKEN_LIFETIME_SECONDS,
            quota_project_id=cfg.quota_project,
            iam_endpoint_override=f"{iam}/v1/projects/-/serviceAccounts/{impersonate}:generateAccessToken",
        )

    def _clients(self) -> _Clients:
        clients: _Clients | None = getattr(self._local, "clients", None)
        if clients is not None:
            return clients
        credentials = self._credentials_for_clients()
        cfg = self._config
        compute = {
            "credentials": credentials,
            "transport": "rest",
            "client_options": ClientOptions(api_endpoint=cfg.compute_endpoint),
        }
        manager = {
            "credentials": credentials,
            "transport": "rest",
            "client_options": ClientOptions(api_endpoint=cfg.resource_manager_endpoint),
        }
        clients = _Clients(
            addresses=compute_v1.AddressesClient(**compute),
            instances=compute_v1.InstancesClient(**compute),
            forwarding_rules=compute_v1.ForwardingRulesClient(**compute),
            global_addresses=compute_v1.GlobalAddressesClient(**compute),
            global_forwarding_rules=compute_v1.GlobalForwardingRulesClient(**compute),
            projects=resourcemanager_v3.ProjectsClient(**manager),
            folders=resourcemanager_v3.FoldersClient(**manager),
        )
        self._local.clients = clients
        with self._lock:
            self._all_clients.append(clients)
        return clients

    def close(self) -> None:
        """Close every thread's HTTP sessions."""
        with self._lock:
            all_clients, self._all_clients = self._all_clients, []
            asset_clients, self._asset_clients = self._asset_clients, []
        for clients in all_clients:
            clients.close()
        for client in asset_clients:
            try:
                client.transport.close()
            except Exception:  # pragma: no cover - closing is best effort
                logger.debug("gcp: closing the asset client failed", exc_info=True)
        self._local = threading.local()
