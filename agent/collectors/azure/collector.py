"""Azure collector: every allocated public IP address of each subscription, with its ARM location as the region.

Scopes: with an explicit subscription list, each subscription is a root leaf scope. Otherwise one non-leaf root scope
``azure:subscriptions`` lists the subscriptions visible to the credential (``SubscriptionClient.subscriptions.list``)
and yields one leaf scope per subscription, so ``--shard`` spreads subscriptions over workers. A leaf calls
``NetworkManagementClient.public_ip_addresses.list_all`` (one paged request stream per subscription).

The credential is built once and shared: azure-identity credentials are thread-safe and cache their token, so the
tenant sees one token request per run, not one per subscription. SDK clients (and their HTTP sessions) are built per
scope and closed after it, so no pipeline is shared between runner threads.

``mode: resource_graph`` replaces both kinds of scope by Azure Resource Graph leaves; see
`agent.collectors.azure.resource_graph`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import RetryPolicy
from azure.identity import ClientSecretCredential, CredentialUnavailableError, DefaultAzureCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.subscriptions import SubscriptionClient
from pydantic import ValidationError

from agent.clock import SYSTEM_CLOCK, Clock
from agent.collectors.azure.config import AzureConfig
from agent.collectors.azure.records import SOURCE, public_ip_address
from agent.collectors.base import Collector
from agent.errors import CollectorError, ConfigError
from agent.models import CloudAddress, Scope

__all__ = ["AzureCollector", "SubscriptionInfo"]

logger = logging.getLogger(__name__)

DISCOVERY_PATH = ("subscriptions",)


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """What discovery learnt about a subscription (carried in the leaf scope's context)."""

    subscription_id: str
    display_name: str = ""
    tenant_id: str = ""
    state: str = ""


class ClockRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy (retries 408/429/5xx and connection errors, honours ``Retry-After``), sleeping on
    an injectable `Clock` so tests need not wait, and never longer than `retry_backoff_max` for one Retry-After:
    a throttled subscription must not park a runner thread for an hour."""

    def __init__(self, clock: Clock, *, fallback_retry_after: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._fallback = fallback_retry_after

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        if response is not None:
            retry_after = self.get_retry_after(response) or self._fallback_retry_after(response)
            if retry_after:
                self._clock.sleep(min(float(retry_after), float(self.backoff_max)))
                return
        backoff = self.get_backoff_time(settings)
        if backoff > 0:
            self._clock.sleep(backoff)

    def _fallback_retry_after(self, response: Any) -> float | None:
        """Seconds from a service-specific header when there is no Retry-After: Resource Graph's 429 says when the
        user's quota resets in ``x-ms-user-quota-resets-after`` (``hh:mm:ss``)."""
        if self._fallback is None or response.http_response.status_code != 429:
            return None
        from agent.collectors.azure.resource_graph import parse_resets_after

        return parse_resets_after(response.http_response.headers.get(self._fallback))


class AzureCollector(Collector):
    """See `Collector`. Lists public IP addresses per subscription; region = normalised ARM ``location``."""

    source = SOURCE

    def __init__(
        self,
        config: AzureConfig,
        *,
        credential: Any = None,
        clock: Clock = SYSTEM_CLOCK,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._excluded_ids = {s.lower() for s in config.exclude_subscriptions}
        self._excluded_names = {s.casefold() for s in config.exclude_subscriptions}
        # Resolve the secret now so a missing one is a ConfigError before any scope runs.
        self._secret = (
            config.client_secret(os.environ if environ is None else environ)
            if config.auth == "service_principal" and credential is None
            else None
        )
        self._credential = credential
        self._owns_credential = credential is None
        self._lock = threading.Lock()
        self._quota: Any = None  # resource_graph.QuotaGate, shared by every engine query (the quota is per user)
        self.engine_calls = 0

    @classmethod
    def from_config(cls, config: AzureConfig | Mapping[str, Any], **kwargs: Any) -> AzureCollector:
        """Build from the ``inventory.azure`` section (the model, or the raw mapping read from YAML)."""
        if not isinstance(config, AzureConfig):
            try:
                config = AzureConfig.model_validate(config)
            except ValidationError as exc:
                problems = "; ".join(
                    f"inventory.azure.{'.'.join(str(p) for p in e['loc']) or '<section>'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ConfigError(problems) from None
        return cls(config, **kwargs)

    # -- scopes -------------------------------------------------------------------------------------------------
    def scopes(self) -> Iterable[Scope]:
        """See `Collector.scopes`. No API call: explicit subscriptions are leaves, discovery is one non-leaf root."""
        if self._config.mode == "resource_graph":
            from agent.collectors.azure.resource_graph import engine_scopes

            yield from engine_scopes(self._config)
            return
        if not self._config.subscriptions:
            yield Scope(SOURCE, DISCOVERY_PATH, leaf=False)
            return
        for sub in self._config.subscriptions:
            if sub in self._excluded_ids:
                logger.info("azure: subscription %s is excluded", sub)
                continue
            yield Scope(SOURCE, (sub,), leaf=True, context=SubscriptionInfo(sub))

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        """See `Collector.collect`. The discovery scope yields subscription scopes; a subscription yields addresses."""
        if not scope.leaf:
            yield from self._discover()
            return
        if self._config.mode == "resource_graph":
            yield from self._engine(scope)
            return
        info = scope.context if isinstance(scope.context, SubscriptionInfo) else SubscriptionInfo(scope.path[-1])
        yield from self._public_ips(info)

    @property
    def engine_quota_waited(self) -> float:
        """Seconds Resource Graph queries waited for the per-user quota to reset (engine mode; for figures)."""
        return self._quota.waited if self._quota is not None else 0.0

    def close(self) -> None:
        """Close the credential this collector created (its HTTP session and token cache)."""
        with self._lock:
            credential, self._credential = self._credential, None
        if credential is not None and self._owns_credential and hasattr(credential, "close"):
            credential.close()

    # -- work ---------------------------------------------------------------------------------------------------
    def _discover(self) -> Iterator[Scope]:
        states = set(self._config.subscription_states)
        try:
            with SubscriptionClient(self._get_credential(), **self._client_kwargs()) as client:
                for sub in client.subscriptions.list():
                    sid = (sub.subscription_id or "").lower()
                    name = sub.display_name or ""
                    state = _text(sub.state)
                    if not sid:
                        continue
                    if sid in self._excluded_ids or name.casefold() in self._excluded_names:
                        logger.info("azure: subscription %s (%s) is excluded", sid, name)
                        continue
                    if state not in states:
                        logger.info("azure: skipping subscription %s (%s): state %s", sid, name, state)
                        continue
                    info = SubscriptionInfo(sid, name, sub.tenant_id or "", state)
                    yield Scope(SOURCE, (sid,), leaf=True, context=info)
        except (AzureError, CollectorError) as exc:
            raise _translate(exc, "listing subscriptions") from exc

    def _public_ips(self, info: SubscriptionInfo) -> Iterator[CloudAddress]:
        sub = info.subscription_id
        seen = skipped = 0
        try:
            with NetworkManagementClient(self._get_credential(), sub, **self._client_kwargs()) as client:
                for item in client.public_ip_addresses.list_all():
                    seen += 1
                    address = _address(item, sub)
                    if address is None:
                        skipped += 1
                        continue
                    yield address
        except (AzureError, CollectorError) as exc:
            raise _translate(exc, f"subscription {sub}") from exc
        logger.debug("azure: subscription %s: %d public IP resources, %d without a usable address", sub, seen, skipped)

    def _engine(self, scope: Scope) -> Iterator[CloudAddress]:
        from azure.mgmt.resourcegraph import ResourceGraphClient

        from agent.collectors.azure.resource_graph import EngineQuery, EngineScope, QuotaGate

        target = scope.context if isinstance(scope.context, EngineScope) else EngineScope()
        with self._lock:
            if self._quota is None:
                self._quota = QuotaGate(self._clock)
            quota = self._quota
        query: EngineQuery | None = None
        try:
            kwargs = self._client_kwargs(
                retry_after_header="x-ms-user-quota-resets-after",
                raw_request_hook=quota.before_request,
                raw_response_hook=quota.after_response,
            )
            with ResourceGraphClient(self._get_credential(), **kwargs) as client:
                query = EngineQuery(client, self._config, self._clock)
                yield from query.run(target)
        except (AzureError, CollectorError) as exc:
            raise _translate(exc, f"resource graph ({target.what})") from exc
        finally:
            if query is not None:
                with self._lock:
                    self.engine_calls += query.calls

    def _get_credential(self) -> Any:
        with self._lock:
            if self._credential is None:
                self._credential = self._build_credential()
            return self._credential

    def _build_credential(self) -> Any:
        cfg = self._config
        kwargs: dict[str, Any] = {
            "authority": cfg.resolved_authority_host,
            "disable_instance_discovery": cfg.disable_instance_discovery,
        }
        if cfg.ca_bundle is not None:
            kwargs["connection_verify"] = str(cfg.ca_bundle)
        if cfg.auth == "service_principal":
            assert self._secret is not None and cfg.tenant_id and cfg.client_id
            return ClientSecretCredential(cfg.tenant_id, cfg.client_id, self._secret.get_secret_value(), **kwargs)
        for name in cfg.exclude_credentials:
            kwargs[f"exclude_{name}_credential"] = True
        if cfg.managed_identity_client_id:
            kwargs["managed_identity_client_id"] = cfg.managed_identity_client_id
        if cfg.tenant_id:
            kwargs["workload_identity_tenant_id"] = cfg.tenant_id
        return DefaultAzureCredential(**kwargs)

    def _client_kwargs(self, retry_after_header: str | None = None, **hooks: Any) -> dict[str, Any]:
        cfg = self._config
        kwargs: dict[str, Any] = {
            **hooks,
            "base_url": cfg.resolved_arm_endpoint,
            "credential_scopes": [cfg.resolved_credential_scope],
            "retry_policy": ClockRetryPolicy(
                self._clock,
                fallback_retry_after=retry_after_header,
                retry_total=cfg.retry_total,
                retry_backoff_factor=cfg.retry_backoff_factor,
                retry_backoff_max=cfg.retry_backoff_max,
            ),
            "connection_timeout": cfg.connection_timeout,
            "read_timeout": cfg.read_timeout,
        }
        if cfg.ca_bundle is not None:
            kwargs["connection_verify"] = str(cfg.ca_bundle)
        return kwargs


def _address(item: Any, subscription_id: str) -> CloudAddress | None:
    """One `CloudAddress` for a public-IP resource, or None (unallocated, bad text, no location)."""
    props = getattr(item, "properties", None)
    raw_ip = getattr(props, "ip_address", None) if props is not None else None
    resource_id = item.id or ""
    if not raw_ip:
        logger.debug("azure: %s has no address allocated, skipped", resource_id)
        return None
    sku = getattr(item, "sku", None)
    extended = getattr(item, "extended_location", None)
    attached = getattr(getattr(props, "ip_configuration", None), "id", None) or getattr(
        getattr(props, "nat_gateway", None), "id", None
    )
    return public_ip_address(
        ip_text=raw_ip,
        resource_id=resource_id,
        location=item.location or "",
        subscription_id=subscription_id,
        ip_version=_text(getattr(props, "public_ip_address_version", None)),
        allocation=_text(getattr(props, "public_ip_allocation_method", None)),
        sku=_text(getattr(sku, "name", None)),
        sku_tier=_text(getattr(sku, "tier", None)),
        zones=",".join(getattr(item, "zones", None) or ()),
        edge_zone=(getattr(extended, "name", None) or "") if extended is not None else "",
        attached_to=attached or "",
    )


def _text(value: Any) -> str:
    """A str-enum from the SDK (``IPVersion.I_PV4``) or a plain string (an enum member the SDK does not know yet)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _translate(exc: BaseException, what: str) -> CollectorError:
    """An SDK error as a `CollectorError` carrying the ARM / Entra ID error code. Never includes credentials."""
    if isinstance(exc, CollectorError):
        return exc
    code = ""
    # Multi-line SDK messages (DefaultAzureCredential lists why each credential failed) become one line.
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, CredentialUnavailableError):
        code = "CredentialUnavailable"
    elif isinstance(exc, HttpResponseError):
        error = getattr(exc, "error", None)
        code = str(getattr(error, "code", None) or "")
        if getattr(error, "message", None):
            message = " ".join(str(getattr(error, "message", "")).split())
        if not code and isinstance(exc, ClientAuthenticationError):
            # azure-identity: "ClientSecretCredential.get_token failed: AADSTS7000215: Invalid client secret..."
            code = _aadsts_code(str(exc)) or "AuthenticationFailed"
        if not code and exc.status_code:
            code = f"HTTP{exc.status_code}"
        response: Any = exc.response
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after:
            message = f"{message} (Retry-After: {retry_after}s)"
    elif isinstance(exc, ServiceRequestError | ServiceResponseError):
        code = type(exc).__name__
    else:
        code = type(exc).__name__
    return CollectorError(f"azure {what}: {code}: {message}", vendor=SOURCE, code=code)


def _aadsts_code(text: str) -> str:
    match = re.search(r"\bAADSTS\d+\b", text)
    return match.group(0) if match else ""
