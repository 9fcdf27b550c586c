"""Inventory source `oci`: public IPs of an OCI tenancy, per subscribed region and compartment.

Scopes: one root per tenancy (its `collect` lists READY region subscriptions and ACTIVE compartments, one Identity
call each) → leaves compartment x region, the unit `--shard` distributes. A leaf lists

* ``list_public_ips(scope=REGION)``: reserved IPs and regional ephemeral ones (NAT gateways);
* ``list_public_ips(scope=AVAILABILITY_DOMAIN)`` for each AD of the region: ephemeral IPs on VNICs;
* with ``ipv6`` on: VCNs and subnets of the compartment, then ``list_ipv6s(subnet_id=…)`` for each subnet that allows
  public addresses and has an IPv6 prefix.

A `PublicIp` has no region field: the region is the one whose endpoint answered (cloud-sdks.md §4.1).

Thread safety: the runner collects scopes on many threads. Each scope builds its own SDK clients (a requests session,
a retry strategy and a circuit breaker each; about 0.2 ms), so nothing mutable is shared but the signer, which only
reads its key (or refreshes its token under the SDK's lock), and the per-region AD cache, which has a lock.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import circuitbreaker
import oci
from oci._vendor.requests.exceptions import RequestException as TransportError

from agent.collectors.base import Collector
from agent.collectors.oci.auth import Credentials, CredentialsProvider
from agent.collectors.oci.config import OciConfig
from agent.errors import CollectorError, ConfigError
from agent.ip import InvalidIPError, canonical_ip
from agent.models import CloudAddress, Confidence, Scope, Vendor

__all__ = ["OciCollector"]

logger = logging.getLogger(__name__)

SOURCE = "oci"

# assignedEntityType -> CloudAddress.kind
_KINDS = {"PRIVATE_IP": "private-ip", "NAT_GATEWAY": "nat-gateway"}
_ULA = ipaddress.ip_network("fc00::/7")  # unique local addresses are never Internet-routable


@dataclass(frozen=True, slots=True)
class _Leaf:
    """Private context of a compartment x region scope."""

    tenancy_id: str
    compartment_id: str
    compartment_name: str
    region: str


@dataclass(slots=True)
class _Clients:
    identity: Any
    network: Any


class OciCollector(Collector):
    """See `Collector`. Lists an OCI tenancy's public IPv4 and IPv6 addresses with the region of each."""

    source = SOURCE

    def __init__(self, config: OciConfig, credentials: CredentialsProvider | None = None) -> None:
        self.config = config
        self._credentials = credentials or CredentialsProvider(config)
        self._ad_lock = threading.Lock()
        self._ads: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_config(cls, config: OciConfig | dict[str, Any]) -> OciCollector:
        """Build from the ``inventory.oci`` section. A bad config-file profile raises `ConfigError`."""
        if not isinstance(config, OciConfig):
            try:
                config = OciConfig.model_validate(config)
            except ValueError as exc:  # pydantic.ValidationError names each bad field and value
                raise ConfigError(f"inventory.oci: {exc}") from None
        return cls(config)

    # ------------------------------------------------------------------ scopes

    def scopes(self) -> Iterable[Scope]:
        """One root scope for the tenancy; no API call."""
        yield Scope(SOURCE, path=(self._credentials.tenancy_hint,), leaf=False)

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        """See `Collector.collect`. Root: yields compartment x region leaves. Leaf: yields addresses."""
        if scope.leaf:
            leaf = scope.context
            if not isinstance(leaf, _Leaf):
                raise CollectorError(f"scope {scope.label} was not made by this collector", vendor=SOURCE)
            yield from self._collect_leaf(leaf)
        else:
            yield from self._collect_root(scope)

    def close(self) -> None:
        """Nothing to release: every scope closes its own clients."""

    # ------------------------------------------------------------------ root

    def _collect_root(self, scope: Scope) -> Iterator[Scope]:
        creds = self._credentials.get()
        with self._clients(creds, creds.region) as clients:
            regions = self._regions(clients, creds)
            compartments = self._compartments(clients, creds)
        logger.info("oci: %d compartment(s) x %d region(s) to scan", len(compartments), len(regions))
        for compartment_id, name in compartments:
            for region in regions:
                yield Scope(
                    SOURCE,
                    path=(creds.tenancy_id, compartment_id, region),
                    leaf=True,
                    context=_Leaf(creds.tenancy_id, compartment_id, name, region),
                )

    def _regions(self, clients: _Clients, creds: Credentials) -> list[str]:
        subscriptions = self._call(
            "list_region_subscriptions", creds.region, creds.tenancy_id,
            lambda: clients.identity.list_region_subscriptions(creds.tenancy_id).data,
        )  # fmt: skip
        ready = [s.region_name for s in subscriptions if s.status == "READY"]
        if not self.config.regions:
            return ready
        for region in self.config.regions:
            if region not in ready:
                # Still scanned: the service answers for it (NotAuthenticated when not subscribed), so the summary says.
                logger.warning("oci: region %s is in inventory.oci.regions but not a READY subscription", region)
        return list(self.config.regions)

    def _compartments(self, clients: _Clients, creds: Credentials) -> list[tuple[str, str]]:
        """(OCID, name) of each compartment to scan, root tenancy first."""
        excluded = set(self.config.exclude_compartments)
        if self.config.compartments:
            return [(c, c) for c in self.config.compartments if c not in excluded]
        found = self._call(
            "list_compartments", creds.region, creds.tenancy_id,
            lambda: self._all(
                clients.identity.list_compartments, creds.tenancy_id, compartment_id_in_subtree=True,
                access_level="ACCESSIBLE", lifecycle_state="ACTIVE",
            ),
        )  # fmt: skip
        result = [(creds.tenancy_id, "root")] if self.config.include_root else []
        result += [(c.id, c.name) for c in found if c.lifecycle_state == "ACTIVE"]
        return [(c, n) for c, n in result if c not in excluded]

    # ------------------------------------------------------------------ leaf

    def _collect_leaf(self, leaf: _Leaf) -> Iterator[CloudAddress]:
        creds = self._credentials.get()
        with self._clients(creds, leaf.region) as clients:
            yield from self._public_ips(clients, leaf, scope="REGION")
            for ad in self._availability_domains(clients, leaf):
                yield from self._public_ips(clients, leaf, scope="AVAILABILITY_DOMAIN", availability_domain=ad)
            if self.config.ipv6:
                yield from self._ipv6s(clients, leaf)

    def _availability_domains(self, clients: _Clients, leaf: _Leaf) -> tuple[str, ...]:
        """AD names of the region, listed once per region (they are the same for every compartment)."""
        with self._ad_lock:
            cached = self._ads.get(leaf.region)
        if cached is not None:
            return cached
        ads = self._call(
            "list_availability_domains", leaf.region, leaf.tenancy_id,
            lambda: clients.identity.list_availability_domains(leaf.tenancy_id).data,
        )  # fmt: skip
        names = tuple(ad.name for ad in ads)
        with self._ad_lock:
            self._ads[leaf.region] = names
        return names

    def _public_ips(self, clients: _Clients, leaf: _Leaf, **kwargs: str) -> Iterator[CloudAddress]:
        items = self._call(
            "list_public_ips", leaf.region, leaf.compartment_id,
            lambda: self._all(clients.network.list_public_ips, compartment_id=leaf.compartment_id, **kwargs),
        )  # fmt: skip
        for item in items:
            details = [
                ("lifetime", item.lifetime or ""),
                ("scope", item.scope or ""),
                ("lifecycle_state", item.lifecycle_state or ""),
                ("compartment_name", leaf.compartment_name),
            ]
            if item.availability_domain:
                details.append(("availability_domain", item.availability_domain))
            if item.assigned_entity_id:
                details.append(("assigned_entity_id", item.assigned_entity_id))
            if item.display_name:
                details.append(("display_name", item.display_name))
            kind = _KINDS.get(item.assigned_entity_type or "", (item.assigned_entity_type or "unassigned").lower())
            record = self._record(item.ip_address, leaf, item.id, kind, details)
            if record is not None:
                yield record

    def _ipv6s(self, clients: _Clients, leaf: _Leaf) -> Iterator[CloudAddress]:
        """IPv6 addresses of the compartment's subnets that allow public addresses."""
        vcns = self._call(
            "list_vcns", leaf.region, leaf.compartment_id,
            lambda: self._all(clients.network.list_vcns, leaf.compartment_id),
        )  # fmt: skip
        private = {
            v.id: [ipaddress.ip_network(p, strict=False) for p in v.ipv6_private_cidr_blocks or ()] for v in vcns
        }
        # All subnets of the compartment, whatever compartment their VCN is in.
        subnets = self._call(
            "list_subnets", leaf.region, leaf.compartment_id,
            lambda: self._all(clients.network.list_subnets, leaf.compartment_id),
        )  # fmt: skip
        for subnet in subnets:
            if subnet.prohibit_internet_ingress or subnet.prohibit_public_ip_on_vnic:
                continue  # a private subnet: its IPv6 addresses are not reachable from the Internet
            if not (subnet.ipv6_cidr_blocks or subnet.ipv6_cidr_block):
                continue  # no IPv6 prefix: nothing to list, save the call
            items = self._call(
                "list_ipv6s", leaf.region, leaf.compartment_id,
                functools.partial(self._all, clients.network.list_ipv6s, subnet_id=subnet.id),
            )  # fmt: skip
            for item in items:
                if _is_private_ipv6(item.ip_address, private.get(subnet.vcn_id, [])):
                    continue
                details = [
                    ("lifetime", item.lifetime or ""),
                    ("ip_state", item.ip_state or ""),
                    ("subnet_id", subnet.id),
                    ("compartment_name", leaf.compartment_name),
                ]
                if item.vnic_id:
                    details.append(("vnic_id", item.vnic_id))
                record = self._record(item.ip_address, leaf, item.id, "ipv6", details)
                if record is not None:
                    yield record

    @staticmethod
    def _record(
        text: str | None, leaf: _Leaf, resource_id: str, kind: str, details: list[tuple[str, str]]
    ) -> CloudAddress | None:
        try:
            ip = canonical_ip(text or "")
        except InvalidIPError as exc:
            logger.warning("oci: skipping %s in %s/%s: %s", resource_id, leaf.compartment_id, leaf.region, exc)
            return None
        return CloudAddress(
            ip=ip,
            vendor=Vendor.OCI,
            region=leaf.region,
            account=leaf.compartment_id,
            resource_id=resource_id,
            kind=kind,
            source=SOURCE,
            confidence=Confidence.ACCOUNT,
            details=tuple(details),
        )

    # ------------------------------------------------------------------ SDK plumbing

    def _all(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Every page of a list call, following ``opc-next-page``, with the configured page size.

        Not `oci.pagination.list_call_get_all_results`: it wraps every page in ``oci.retry.DEFAULT_RETRY_STRATEGY``
        (8 attempts, up to 600 s) on top of the client's own strategy, so a throttled scope would retry 8 x
        `max_attempts` times and ignore our retry settings.
        """
        if self.config.page_size is not None:
            kwargs["limit"] = self.config.page_size
        items: list[Any] = []
        while True:
            response = method(*args, **kwargs)
            items.extend(response.data)
            if not response.has_next_page:
                return items
            kwargs["page"] = response.next_page

    @staticmethod
    def _call(operation: str, region: str, compartment_id: str, fn: Callable[[], Any]) -> Any:
        """Run one SDK call (with the SDK's own retries), translating its errors to `CollectorError`."""
        where = f"{operation} in {region} for {compartment_id}"
        try:
            return fn()
        except oci.exceptions.ServiceError as exc:
            raise CollectorError(
                f"OCI {where} failed: HTTP {exc.status} {exc.code}: {exc.message}", vendor=SOURCE, code=str(exc.code)
            ) from exc
        except circuitbreaker.CircuitBreakerError as exc:
            raise CollectorError(
                f"OCI {where}: circuit breaker open ({exc})", vendor=SOURCE, code="CircuitOpen"
            ) from exc
        except TransportError as exc:  # the SDK's vendored requests: connection refused, timeouts, TLS
            code = type(exc).__name__
            raise CollectorError(f"OCI {where} failed: {code}: {exc}", vendor=SOURCE, code=code) from exc
        except oci.exceptions.ClientError as exc:
            code = type(exc).__name__
            raise CollectorError(f"OCI {where} failed: {code}: {exc}", vendor=SOURCE, code=code) from exc

    @contextmanager
    def _clients(self, creds: Credentials, region: str) -> Iterator[_Clients]:
        """Identity + VirtualNetwork clients for one scope in `region`, closed (breaker included) afterwards."""
        breaker_names: list[str] = []
        built: list[Any] = []
        try:
            for client_class, endpoint in (
                (oci.identity.IdentityClient, self.config.identity_endpoint(region)),
                (oci.core.VirtualNetworkClient, self.config.network_endpoint(region)),
            ):
                kwargs: dict[str, Any] = {
                    "signer": creds.signer,
                    "retry_strategy": self._retry_strategy(),
                    "circuit_breaker_strategy": self._breaker_strategy(breaker_names),
                    "timeout": (self.config.connect_timeout_seconds, self.config.read_timeout_seconds),
                }
                if endpoint:
                    kwargs["service_endpoint"] = endpoint
                try:
                    client = client_class(creds.config_for(region), **kwargs)
                except (oci.exceptions.ClientError, ValueError) as exc:
                    raise CollectorError(
                        f"cannot create an OCI client for {region}: {type(exc).__name__}: {exc}",
                        vendor=SOURCE,
                        code=type(exc).__name__,
                    ) from exc
                if self.config.ca_bundle:
                    client.base_client.session.verify = self.config.ca_bundle
                built.append(client)
            yield _Clients(identity=built[0], network=built[1])
        finally:
            for client in built:
                client.base_client.session.close()
            for name in breaker_names:
                # The SDK registers every breaker in a process-wide registry by name; drop ours with the scope so
                # thousands of scopes do not accumulate breakers, and no breaker state outlives its scope.
                circuitbreaker.CircuitBreakerMonitor.circuit_breakers.pop(name, None)

    def _retry_strategy(self) -> Any:
        """A fresh strategy per client: the SDK attaches the client's breaker callback to it."""
        retry = self.config.retry
        if retry.max_attempts <= 1:
            return oci.retry.NoneRetryStrategy()
        return oci.retry.RetryStrategyBuilder(
            max_attempts=retry.max_attempts,
            total_elapsed_time_seconds=retry.total_elapsed_seconds,
            retry_base_sleep_time_seconds=retry.base_sleep_seconds,
            retry_max_wait_between_calls_seconds=retry.max_sleep_seconds,
            # Full jitter in general, but a guaranteed pause on 429 throttles.
            backoff_type=oci.retry.BACKOFF_FULL_JITTER_EQUAL_ON_THROTTLE_VALUE,
        ).get_retry_strategy()

    def _breaker_strategy(self, names: list[str]) -> Any:
        """A breaker of its own per client (a fresh name), so an open circuit never leaks into another scope."""
        breaker = self.config.circuit_breaker
        if not breaker.enabled:
            return oci.circuit_breaker.NoCircuitBreakerStrategy()
        strategy = oci.circuit_breaker.CircuitBreakerStrategy(
            failure_threshold=breaker.failure_threshold, recovery_timeout=breaker.recovery_timeout_seconds
        )
        names.append(strategy.name)
        return strategy


def _is_private_ipv6(text: str | None, private_prefixes: list[ipaddress.IPv6Network | ipaddress.IPv4Network]) -> bool:
    """True for ULA addresses and those inside the VCN's private IPv6 prefixes (not Internet-routable)."""
    try:
        address = ipaddress.ip_address(text or "")
    except ValueError:
        return False  # let `_record` log it as invalid
    return address in _ULA or any(address in prefix for prefix in private_prefixes)
