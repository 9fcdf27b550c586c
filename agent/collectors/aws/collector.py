"""Inventory source `aws`: every public IP (Elastic IPs, interface IPv4 associations, interface IPv6) with its region.

Scope tree (the runner fans it out; leaves are what ``--shard`` distributes):

```
aws:organization                 ListAccounts, or ListAccountsForParent + ListChildren from the configured OUs
└── aws:<account id>             AssumeRole (or the caller's own credentials), then DescribeRegions
    └── aws:<account id>/<region>    DescribeAddresses + DescribeNetworkInterfaces (paginated)   (leaf)
```
Configured `accounts` and, when nothing is configured, the default credential chain are account-level roots.

Concurrency and cost. botocore sessions are not thread-safe, clients are. A client is built once per
(principal, service, region) under the principal's lock and then shared; leaf scopes never share a session
unguarded. Building an EC2 client costs ~13 ms of CPU because botocore turns all ~760 EC2 operations into methods
for every client; the collector's data loader hands botocore an EC2 model trimmed to the three operations it calls,
which brings that to ~1.3 ms (the same for STS and Organizations). With 20 accounts x 17 regions that is the
difference between ~4.5 s and ~0.5 s of GIL-bound CPU. Sessions also get only the built-in event handlers that can
fire for these three services (not S3's, RDS's…), which takes another ~20% off the CPU per leaf: clients copy, and
requests search, a much smaller handler tree; and no event-name aliasing (none applies to them), another ~10%. What
is left (~5 ms per leaf: client, signing, XML parsing) is why the runner can spread leaves over processes
(`discovery_processes`).

Engine mode (``mode: config_aggregator``). One AWS Config aggregator answers for every account and region it covers:

```
aws:aggregator/<name>                       DescribeConfigurationAggregatorSourcesStatus (FAILED / OUTDATED only)
├── aws:aggregator/<name>/source/<id>/<region>    one per failed or outdated source: an error scope (incomplete)
└── aws:aggregator/<name>/part-<i>-of-<n>         SelectAggregateResourceConfig, 100 rows a page   (leaf)
```
Pages are sequential (NextToken), so the query is split by region into `aggregator_queries` parts that page in
parallel: the regions botocore knows for the partition, sorted, dealt round-robin; the last part takes every other
region (``NOT awsRegion IN (...)``), so a region new to botocore is still covered. The split depends on nothing the
API answers, so every shard of a sharded run computes the same parts. Each part costs at most one partial page, so a
run makes at most ceil(rows / 100) + parts + 1 calls. Rows become the same records as in per-account mode (the
configuration item is the EC2 item in camelCase), with ``configurationItemCaptureTime`` as `observed_at`.

Credentials. Assumed roles are `RefreshableCredentials` backed by an AssumeRole call, attached to a per-principal
botocore session through a credential provider: botocore refreshes them 15 minutes before expiry (10 minutes:
blocking), from whichever thread signs a request. Time comes from the injectable clock.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.handlers
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.hooks import EventAliaser, HierarchicalEmitter
from botocore.loaders import Loader

from agent.clock import SYSTEM_CLOCK, Clock
from agent.collectors.aws.config import (
    PARTITION_HOME_REGIONS,
    AwsAccount,
    AwsConfig,
    account_id_of_role_arn,
    partition_of_arn,
)
from agent.collectors.base import Collector
from agent.errors import CollectorError, ConfigError
from agent.ip import InvalidIPError, canonical_ip
from agent.models import CloudAddress, Confidence, Scope, Vendor

__all__ = ["AwsCollector"]

logger = logging.getLogger(__name__)

SOURCE = "aws"
_ENABLED_OPT_IN = ("opt-in-not-required", "opted-in")
_OPERATIONS = {
    "ec2": frozenset({"DescribeRegions", "DescribeAddresses", "DescribeNetworkInterfaces"}),
    "sts": frozenset({"AssumeRole", "GetCallerIdentity"}),
    "organizations": frozenset({"ListAccounts", "ListAccountsForParent", "ListChildren"}),
    "config": frozenset({"SelectAggregateResourceConfig", "DescribeConfigurationAggregatorSourcesStatus"}),
}
_EVENT_SERVICE_IDS = frozenset({"config-service"})
"""Event-name ids of our services where they differ from the service name (``config`` emits ``config-service``)."""
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
_ENGINE_PAGE = 100  # the most SelectAggregateResourceConfig returns per page
_EIP, _ENI = "AWS::EC2::EIP", "AWS::EC2::NetworkInterface"
_ENGINE_FIELDS = (
    "accountId, awsRegion, resourceId, resourceType, configurationItemCaptureTime, "
    "configuration.publicIp, configuration.allocationId, configuration.associationId, configuration.instanceId, "
    "configuration.networkInterfaceId, configuration.privateIpAddress, configuration.publicIpv4Pool, "
    "configuration.domain, configuration.interfaceType, configuration.description, configuration.availabilityZone, "
    "configuration.attachment.instanceId, configuration.association, configuration.privateIpAddresses, "
    "configuration.ipv6Addresses"
)
_INTERFACE_KINDS = {
    "nat_gateway": "nat-gateway",
    "network_load_balancer": "network-load-balancer",
    "gateway_load_balancer": "gateway-load-balancer",
    "gateway_load_balancer_endpoint": "gateway-load-balancer-endpoint",
    "global_accelerator_managed": "global-accelerator",
    "vpc_endpoint": "vpc-endpoint",
    "api_gateway_managed": "api-gateway",
}


class _TrimmedLoader(Loader):
    """A botocore data loader that serves service models with only the operations this collector calls.

    Client creation cost is proportional to the number of operations (botocore builds one method per operation, per
    client); everything else (shapes, endpoints, paginators) is untouched, so the wire behaviour is identical.
    """

    def __init__(self) -> None:
        super().__init__()
        self._trimmed: dict[tuple[str, str | None], tuple[Any, dict[str, Any]]] = {}
        self._trim_lock = threading.Lock()

    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = super().load_service_model(service_name, type_name, api_version)
        keep = _OPERATIONS.get(service_name)
        if keep is None or type_name != "service-2":
            return model
        key = (service_name, api_version)
        with self._trim_lock:
            cached = self._trimmed.get(key)
            if cached is None or cached[0] is not model:
                operations = {name: op for name, op in model["operations"].items() if name in keep}
                cached = (model, {**model, "operations": operations})
                self._trimmed[key] = cached
        return cached[1]


_LOADER = _TrimmedLoader()
"""Shared by every session of the process: JSON models are parsed once (the EC2 one takes ~100 ms)."""


def _our_builtin_handlers() -> HierarchicalEmitter:
    """botocore's built-in event handlers, less those registered for one named service other than ours.

    A session registers ~125 handlers, most for S3, RDS, Glacier…; every client copies that handler tree and every
    request searches it for each of the ~15 events it emits. Events are named ``<event>.<service id>.<operation>``, so
    a handler registered as ``before-call.s3.*`` never fires for EC2, STS or Organizations. Keeping ``*``, unscoped
    and our services' handlers leaves the same handlers on every event we emit (a test compares them with a full
    session's) and cuts this process's CPU per account x region by ~20%.
    """
    emitter = HierarchicalEmitter()
    aliaser = EventAliaser(emitter)  # registers under the same (aliased) names as a botocore session does
    for spec in botocore.handlers.BUILTIN_HANDLERS:
        event_name, handler = spec[0], spec[1]
        service = event_name.split(".")[1] if "." in event_name else "*"
        if service != "*" and service not in _OPERATIONS and service not in _EVENT_SERVICE_IDS:
            continue
        if len(spec) == 2:
            aliaser.register(event_name, handler)
        elif spec[2] is botocore.handlers.REGISTER_FIRST:
            aliaser.register_first(event_name, handler)
        else:
            aliaser.register_last(event_name, handler)
    return emitter


def _new_session(profile: str | None = None) -> botocore.session.Session:
    """A botocore session with our trimmed data loader and only the built-in handlers our services can fire.

    Its clients' event emitter has no service-name aliases: botocore renames old service names in event names
    (``autoscaling`` -> ``auto-scaling``, 65 of them, none ours) by trying each alias on every event name, and every
    client starts with an empty cache of those renamings, which cost ~10% of the CPU per account x region.
    """
    hooks = _our_builtin_handlers()  # per session: later additions to BUILTIN_HANDLERS (moto's, say) count too
    session = botocore.session.Session(profile=profile, event_hooks=hooks, include_builtin_handlers=False)
    session.register_component("data_loader", _LOADER)
    session.register_component("event_emitter", EventAliaser(hooks, event_aliases={}))
    return session


class _FixedProvider(CredentialProvider):
    """Hands one credentials object (refreshable or not) to a botocore session."""

    METHOD = "origin-region-agent"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


@dataclass(eq=False)
class _Principal:
    """One set of credentials: a botocore session (guarded by `lock`) and the clients built from it."""

    name: str  # for messages: "default", "profile prod", "arn:aws:iam::1:role/x"
    session: Any = field(repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class _AccountTarget:
    """Context of an account scope: how to reach the account."""

    label: str
    spec: AwsAccount
    regions: tuple[str, ...] | None
    source: _Principal | None = None  # credentials to assume the role with; None: the base profile
    direct: bool = False  # use `source` itself (the organization's caller account)


@dataclass(frozen=True)
class _Account:
    """A resolved account: its id, partition and credentials."""

    id: str
    partition: str
    principal: _Principal


@dataclass(frozen=True)
class _RegionTarget:
    """Context of a leaf scope."""

    account: _Account
    region: str


class _Organization:
    """Context of the organization root scope."""


class _Aggregator:
    """Context of the aggregator root scope (engine mode)."""


@dataclass(frozen=True)
class _AggregatorPart:
    """Context of an engine leaf: one query over a share of the regions."""

    principal: _Principal
    region: str  # the aggregator's
    expression: str


@dataclass(frozen=True)
class _FailedSource:
    """Context of an aggregator source whose last update failed or is outdated: reported as a scope error."""

    code: str
    message: str


class AwsCollector(Collector):
    """See `Collector`. Lists Elastic IPs and interface public IPs per account x region."""

    source = SOURCE

    def __init__(self, config: AwsConfig, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._bases: dict[str | None, _Principal] = {}
        self._principals: list[_Principal] = []
        retries: dict[str, Any] = {"mode": config.retry_mode, "total_max_attempts": config.max_attempts}
        self._client_config = Config(
            retries=retries,  # type: ignore[arg-type]
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            user_agent_extra="origin-region-agent",
        )

    @classmethod
    def from_config(cls, config: AwsConfig | dict[str, Any] | None, *, clock: Clock = SYSTEM_CLOCK) -> AwsCollector:
        """Build from the `inventory.aws` section (a validated `AwsConfig`, or its plain dict)."""
        if config is None:
            config = AwsConfig()
        elif isinstance(config, dict):
            from pydantic import ValidationError

            try:
                config = AwsConfig.model_validate(config)
            except ValidationError as exc:
                problems = "; ".join(
                    f"inventory.aws.{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
                    + (
                        ""
                        if "secret" in str(err["loc"]) or "external_id" in str(err["loc"])
                        else f" (got {err['input']!r})"
                    )
                    for err in exc.errors()
                )
                raise ConfigError(problems) from None
        return cls(config, clock=clock)

    # ------------------------------------------------------------------ scopes

    def scopes(self) -> Iterable[Scope]:
        """See `Collector.scopes`. Cheap: no API call happens here."""
        config = self._config
        if config.mode == "config_aggregator":
            if config.accounts or config.organization is not None:
                logger.info("aws: mode config_aggregator: 'accounts' and 'organization' are not used")
            return [Scope(SOURCE, ("aggregator", str(config.aggregator_name)), leaf=False, context=_Aggregator())]
        roots: list[Scope] = []
        if config.organization is not None:
            roots.append(Scope(SOURCE, ("organization",), leaf=False, context=_Organization()))
        for spec in config.accounts:
            label = spec.known_id or (f"profile:{spec.profile}" if spec.profile else "default")
            target = _AccountTarget(label, spec, _tuple(spec.regions))
            roots.append(Scope(SOURCE, (label,), leaf=False, context=target))
        if not roots:
            target = _AccountTarget("default", AwsAccount(profile=config.profile), None)
            roots.append(Scope(SOURCE, ("default",), leaf=False, context=target))
        return roots

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        """See `Collector.collect`. Dispatches on the scope's context."""
        context = scope.context
        if isinstance(context, _RegionTarget):
            return iter(self._collect_region(context.account, context.region))
        if isinstance(context, _AccountTarget):
            return iter(list(self._collect_account(context)))
        if isinstance(context, _Organization):
            return iter(list(self._collect_organization()))
        if isinstance(context, _AggregatorPart):
            return iter(self._collect_part(context))
        if isinstance(context, _Aggregator):
            return iter(list(self._collect_aggregator()))
        if isinstance(context, _FailedSource):
            raise CollectorError(context.message, vendor=SOURCE, code=context.code)
        raise CollectorError(f"unknown AWS scope {scope.label}", vendor=SOURCE)

    def close(self) -> None:
        """Close every client's connection pool."""
        with self._lock:
            principals, self._principals = self._principals, []
        for principal in principals:
            with principal.lock:
                for client in principal.clients.values():
                    client.close()
                principal.clients.clear()

    # ------------------------------------------------------------------ organization

    def _collect_organization(self) -> Iterator[Scope]:
        org = self._config.organization
        assert org is not None
        admin = self._base(self._config.profile)
        if org.admin_role_arn:
            admin = self._assume(
                admin, org.admin_role_arn, org.admin_external_id, org.member_session_name, org.member_duration_seconds
            )
        caller_id, caller_partition = self._identity(admin)
        partition = self._config.partition or caller_partition
        client = self._client(admin, "organizations", self._home_region(partition, admin))
        accounts = self._list_org_accounts(client, org.organizational_units, set(org.skip_organizational_units))
        explicit = {spec.known_id for spec in self._config.accounts if spec.known_id}
        skipped = set(org.skip_member_accounts) | explicit
        regions = _tuple(org.member_regions)
        count = 0
        for account_id in sorted(accounts):
            if account_id in skipped:
                continue
            count += 1
            if account_id == caller_id:
                spec = AwsAccount(id=account_id)
                target = _AccountTarget(account_id, spec, regions, source=admin, direct=True)
            else:
                role_arn = f"arn:{partition}:iam::{account_id}:role/{org.member_role_name}"
                spec = AwsAccount(
                    role_arn=role_arn,
                    external_id=org.member_external_id,
                    session_name=org.member_session_name,
                    duration_seconds=org.member_duration_seconds,
                )
                target = _AccountTarget(account_id, spec, regions, source=admin)
            yield Scope(SOURCE, (account_id,), leaf=False, context=target)
        logger.info("aws: organization lists %d active account(s) to scan", count)

    def _list_org_accounts(self, client: Any, roots: list[str], skip_ous: set[str]) -> set[str]:
        def active(items: Iterable[dict[str, Any]]) -> set[str]:
            # `State` replaces the deprecated `Status` (ACTIVE | SUSPENDED | PENDING_CLOSURE | CLOSED).
            return {a["Id"] for a in items if (a.get("State") or a.get("Status")) == "ACTIVE"}

        if not roots:
            pages = self._call(client, "list_accounts", paginate=True)
            return active(a for page in pages for a in page["Accounts"])
        found: set[str] = set()
        queue, seen = list(roots), set()
        while queue:  # breadth-first over the OU tree
            parent = queue.pop(0)
            if parent in skip_ous or parent in seen:
                continue
            seen.add(parent)
            pages = self._call(client, "list_accounts_for_parent", paginate=True, ParentId=parent)
            found |= active(a for page in pages for a in page["Accounts"])
            pages = self._call(client, "list_children", paginate=True, ParentId=parent, ChildType="ORGANIZATIONAL_UNIT")
            queue.extend(child["Id"] for page in pages for child in page["Children"])
        return found

    # ------------------------------------------------------------------ aggregator (engine mode)

    def _collect_aggregator(self) -> Iterator[Scope]:
        config = self._config
        name = str(config.aggregator_name)
        principal = self._base(config.profile)
        if config.aggregator_role_arn:
            principal = self._assume(
                principal, config.aggregator_role_arn, config.aggregator_external_id, "origin-region-agent", 3600
            )
        region = config.aggregator_region or self._home_region(config.partition, principal)
        client = self._client(principal, "config", region)
        where = f"aggregator {name} in {region}"
        pages = self._call(
            client,
            "describe_configuration_aggregator_sources_status",
            paginate=True,
            ConfigurationAggregatorName=name,
            UpdateStatus=["FAILED", "OUTDATED"],
            context=where,
        )
        for page in pages:
            for source in page["AggregatedSourceStatusList"]:
                status, source_region = source.get("LastUpdateStatus", "?"), source.get("AwsRegion", "?")
                source_id = source.get("SourceId", "?")
                detail = f": {source.get('LastErrorCode')}: {source.get('LastErrorMessage', '')}".rstrip(": ")
                message = (
                    f"aggregator {name}: source {source.get('SourceType', '')} {source_id} in {source_region} is "
                    f"{status}{detail if source.get('LastErrorCode') else ''}; its data may be missing or stale"
                )
                code = "AggregatorSource" + status.title()
                path = ("aggregator", name, "source", str(source_id), str(source_region))
                yield Scope(SOURCE, path, leaf=False, context=_FailedSource(code, message))
        literal = [r for r in config.regions if not any(fnmatch.fnmatchcase(r, p) for p in config.skip_regions)]
        if config.regions and not any(_is_pattern(r) for r in config.regions):
            # Only these regions: ask for them alone (every part an IN list, no catch-all).
            parts = _region_parts(sorted(set(literal)), config.aggregator_queries, rest=False)
        else:
            with principal.lock:
                partition = config.partition or _partition_of_region(region)
                known = sorted(principal.session.get_available_regions("ec2", partition))
            parts = _region_parts(known, config.aggregator_queries)
        for n, condition in enumerate(parts, 1):
            expression = f"SELECT {_ENGINE_FIELDS} WHERE resourceType IN ('{_EIP}', '{_ENI}')" + (
                f" AND {condition}" if condition else ""
            )
            label = ("aggregator", name, f"part-{n}-of-{len(parts)}")
            yield Scope(SOURCE, label, leaf=True, context=_AggregatorPart(principal, region, expression))

    def _collect_part(self, part: _AggregatorPart) -> list[CloudAddress]:
        config = self._config
        client = self._client(part.principal, "config", part.region)
        pages = self._call(
            client,
            "select_aggregate_resource_config",
            paginate=True,
            ConfigurationAggregatorName=config.aggregator_name,
            Expression=part.expression,
            PaginationConfig={"PageSize": _ENGINE_PAGE},
            context=f"aggregator {config.aggregator_name} in {part.region}",
        )
        # Merged per account x region x IP, as one per-account leaf would (an EIP and its interface are one record).
        merged: dict[tuple[str, str, str], CloudAddress] = {}
        for page in pages:
            for text in page["Results"]:
                for record in self._engine_records(text):
                    key = (record.account, record.region, record.ip)
                    merged[key] = _richer(merged.get(key), record)
        return list(merged.values())

    def _engine_records(self, text: str) -> list[CloudAddress]:
        """The records of one advanced-query row (a JSON string): the EC2 item's fields, in camelCase."""
        try:
            row = json.loads(text)
            account, region = str(row["accountId"]), str(row["awsRegion"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CollectorError(f"aggregator row is not a configuration item: {exc}", vendor=SOURCE) from None
        skip, wanted = self._config.skip_regions, self._config.regions
        if any(fnmatch.fnmatchcase(region, p) for p in skip) or (
            wanted and not any(fnmatch.fnmatchcase(region, p) for p in wanted)
        ):
            return []
        item = _pascal(row.get("configuration") or {})
        observed = _capture_time(row.get("configurationItemCaptureTime"))
        if row.get("resourceType") == _EIP:
            record = self._address_record(item, account, region)
            records = [] if record is None else [record]
        elif row.get("resourceType") == _ENI:
            records = list(self._interface_records(item, account, region))
        else:
            return []
        return [dataclasses.replace(r, observed_at=observed) for r in records]

    # ------------------------------------------------------------------ account

    def _collect_account(self, target: _AccountTarget) -> Iterator[Scope]:
        spec = target.spec
        source = target.source or self._base(spec.profile or self._config.profile)
        if target.direct:
            principal = source
            account_id, partition = self._identity(principal)
        elif spec.role_arn:
            principal = self._assume(source, spec.role_arn, spec.external_id, spec.session_name, spec.duration_seconds)
            account_id, partition = account_id_of_role_arn(spec.role_arn), partition_of_arn(spec.role_arn)
        else:
            principal = source
            account_id, partition = self._identity(principal)
        if spec.id and spec.id != account_id:
            raise CollectorError(
                f"account {spec.id}: the credentials of {principal.name} belong to account {account_id}",
                vendor=SOURCE,
                code="AccountMismatch",
            )
        account = _Account(account_id, self._config.partition or partition, principal)
        patterns = target.regions if target.regions is not None else tuple(self._config.regions)
        regions = self._regions(account, patterns)
        logger.info("aws: account %s: %d region(s) to scan", account_id, len(regions))
        for region in regions:
            yield Scope(SOURCE, (account_id, region), leaf=True, context=_RegionTarget(account, region))

    def _regions(self, account: _Account, patterns: tuple[str, ...]) -> list[str]:
        """The regions to scan: the literal list as given, else enabled regions matching the patterns."""
        skip = self._config.skip_regions
        if patterns and not any(_is_pattern(p) for p in patterns):
            regions = list(dict.fromkeys(patterns))
        else:
            client = self._client(account.principal, "ec2", self._home_region(account.partition, account.principal))
            # moto ignores the opt-in filter: keep the client-side check, which is right for both.
            response = self._call(
                client,
                "describe_regions",
                Filters=[{"Name": "opt-in-status", "Values": list(_ENABLED_OPT_IN)}],
                context=f"account {account.id}",
            )
            enabled = sorted(
                r["RegionName"]
                for r in response["Regions"]
                if r.get("OptInStatus", _ENABLED_OPT_IN[0]) in _ENABLED_OPT_IN
            )
            regions = [r for r in enabled if not patterns or any(fnmatch.fnmatchcase(r, p) for p in patterns)]
        return [r for r in regions if not any(fnmatch.fnmatchcase(r, p) for p in skip)]

    # ------------------------------------------------------------------ region (leaf)

    def _collect_region(self, account: _Account, region: str) -> list[CloudAddress]:
        client = self._client(account.principal, "ec2", region)
        where = f"account {account.id} region {region}"
        addresses = self._call(client, "describe_addresses", context=where)["Addresses"]
        pages = self._call(
            client,
            "describe_network_interfaces",
            paginate=True,
            PaginationConfig={"PageSize": self._config.page_size},
            context=where,
        )
        by_ip: dict[str, CloudAddress] = {}
        for item in addresses:
            record = self._address_record(item, account.id, region)
            if record is not None:
                by_ip[record.ip] = record
        for page in pages:
            for interface in page["NetworkInterfaces"]:
                for record in self._interface_records(interface, account.id, region):
                    by_ip[record.ip] = _richer(by_ip.get(record.ip), record)
        return list(by_ip.values())

    def _address_record(self, item: dict[str, Any], account_id: str, region: str) -> CloudAddress | None:
        raw = item.get("PublicIp") or item.get("CarrierIp")
        ip = _canonical(raw, f"Elastic IP {item.get('AllocationId', '?')} in {account_id}/{region}")
        if ip is None:
            return None
        details = {
            "allocation_id": item.get("AllocationId"),
            "association_id": item.get("AssociationId"),
            "network_interface_id": item.get("NetworkInterfaceId"),
            "instance_id": item.get("InstanceId"),
            "private_ip": item.get("PrivateIpAddress"),
            "network_border_group": item.get("NetworkBorderGroup") or region,
            "public_ipv4_pool": item.get("PublicIpv4Pool"),
            "service_managed": item.get("ServiceManaged"),
            "domain": item.get("Domain"),
        }
        return CloudAddress(
            ip=ip,
            vendor=Vendor.AWS,
            region=region,
            account=account_id,
            resource_id=str(item.get("AllocationId") or raw),
            kind="carrier-ip" if not item.get("PublicIp") else "elastic-ip",
            source=SOURCE,
            confidence=Confidence.ACCOUNT,
            details=_details(details),
        )

    def _interface_records(self, eni: dict[str, Any], account_id: str, region: str) -> Iterator[CloudAddress]:
        kind = _interface_kind(eni)
        eni_id = eni.get("NetworkInterfaceId", "")
        instance_id = (eni.get("Attachment") or {}).get("InstanceId")
        base = {
            "network_interface_id": eni_id,
            "interface_type": eni.get("InterfaceType", "interface"),
            "availability_zone": eni.get("AvailabilityZone"),
            "network_border_group": _border_group(eni.get("AvailabilityZone"), region),
            "instance_id": instance_id,
            "description": eni.get("Description") or None,
        }
        resource_id = str(instance_id if kind == "instance" else eni_id)
        associations = [eni.get("Association")] + [p.get("Association") for p in eni.get("PrivateIpAddresses", [])]
        raw_ips: list[tuple[str, dict[str, Any]]] = []
        for assoc in associations:
            if not assoc:
                continue
            extra = {"ip_owner_id": assoc.get("IpOwnerId"), "allocation_id": assoc.get("AllocationId")}
            for key in ("PublicIp", "CarrierIp"):
                if assoc.get(key):
                    raw_ips.append((assoc[key], extra))
        if self._config.include_ipv6:
            raw_ips.extend((v6["Ipv6Address"], {}) for v6 in eni.get("Ipv6Addresses", []) if v6.get("Ipv6Address"))
        seen: set[str] = set()
        for raw, extra in raw_ips:
            ip = _canonical(raw, f"network interface {eni_id} in {account_id}/{region}")
            if ip is None or ip in seen:
                continue
            seen.add(ip)
            yield CloudAddress(
                ip=ip,
                vendor=Vendor.AWS,
                region=region,
                account=account_id,
                resource_id=resource_id,
                kind=kind,
                source=SOURCE,
                confidence=Confidence.ACCOUNT,
                details=_details({**base, **extra}),
            )

    # ------------------------------------------------------------------ credentials and clients

    def _base(self, profile: str | None) -> _Principal:
        """The principal of the default credential chain, or of a named profile (one per profile)."""
        with self._lock:
            principal = self._bases.get(profile)
            if principal is None:
                session = _new_session(profile)
                principal = _Principal(f"profile {profile}" if profile else "the default credential chain", session)
                self._bases[profile] = principal
                self._principals.append(principal)
        return principal

    def _assume(
        self, source: _Principal, role_arn: str, external_id: Any, session_name: str, duration: int
    ) -> _Principal:
        """A principal for `role_arn`, assumed from `source`, whose credentials refresh themselves before expiry."""
        sts = self._client(source, "sts", self._home_region(partition_of_arn(role_arn), source))
        params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": duration}
        if external_id is not None:
            params["ExternalId"] = external_id.get_secret_value()

        def fetch() -> dict[str, str]:
            credentials = sts.assume_role(**params)["Credentials"]
            return {
                "access_key": credentials["AccessKeyId"],
                "secret_key": credentials["SecretAccessKey"],
                "token": credentials["SessionToken"],
                "expiry_time": credentials["Expiration"].isoformat(),
            }

        try:
            first = fetch()
        except ClientError as exc:
            raise _translate(exc, f"assume role {role_arn} from {source.name}") from None
        except BotoCoreError as exc:
            raise CollectorError(f"assume role {role_arn}: {exc}", vendor=SOURCE, code=type(exc).__name__) from None
        credentials = RefreshableCredentials(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=datetime.fromisoformat(first["expiry_time"]),
            refresh_using=fetch,
            method="assume-role",
            time_fetcher=self._now,
        )
        session = _new_session()
        session.register_component("credential_provider", CredentialResolver([_FixedProvider(credentials)]))
        principal = _Principal(role_arn, session)
        with self._lock:
            self._principals.append(principal)
        return principal

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)

    def _identity(self, principal: _Principal) -> tuple[str, str]:
        """(account id, partition) of a principal, from sts:GetCallerIdentity."""
        sts = self._client(principal, "sts", self._home_region(self._config.partition, principal))
        identity = self._call(sts, "get_caller_identity", context=principal.name)
        return identity["Account"], partition_of_arn(identity["Arn"])

    def _home_region(self, partition: str | None, principal: _Principal) -> str:
        """Region for STS, Organizations and DescribeRegions calls (`partition` None: not known yet)."""
        if self._config.region:
            return self._config.region
        with principal.lock:
            configured = principal.session.get_config_variable("region")
        if configured and (partition is None or _partition_of_region(configured) == partition):
            return str(configured)
        return PARTITION_HOME_REGIONS.get(partition or "aws", "us-east-1")

    def _client(self, principal: _Principal, service: str, region: str) -> Any:
        """The principal's client for (service, region): built once, under the session's lock, then shared."""
        key = (service, region)
        with principal.lock:
            client = principal.clients.get(key)
            if client is None:
                endpoint = {
                    "ec2": self._config.endpoint_url,
                    "sts": self._config.sts_endpoint_url,
                    "organizations": self._config.organizations_endpoint_url,
                    "config": self._config.config_endpoint_url,
                }[service]
                try:
                    client = principal.session.create_client(
                        service,
                        region_name=region,
                        endpoint_url=endpoint,
                        verify=self._config.ca_bundle,
                        config=self._client_config,
                    )
                except BotoCoreError as exc:
                    raise CollectorError(
                        f"{service} client for {region} ({principal.name}): {exc}",
                        vendor=SOURCE,
                        code=type(exc).__name__,
                    ) from None
                principal.clients[key] = client
        return client

    def _call(self, client: Any, method: str, *, paginate: bool = False, context: str = "", **kwargs: Any) -> Any:
        """Call (or fully paginate) one API operation; SDK errors become `CollectorError` with the AWS code."""
        try:
            if paginate:
                return list(client.get_paginator(method).paginate(**kwargs))
            return getattr(client, method)(**kwargs)
        except ClientError as exc:
            raise _translate(exc, context) from None
        except BotoCoreError as exc:
            where = f" ({context})" if context else ""
            raise CollectorError(f"{method}{where}: {exc}", vendor=SOURCE, code=type(exc).__name__) from None


# ---------------------------------------------------------------------- helpers


def _translate(exc: ClientError, context: str) -> CollectorError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    operation = getattr(exc, "operation_name", "") or "call"
    where = f" ({context})" if context else ""
    message = f"{operation}{where} failed: {code}: {error.get('Message', '')}".rstrip(": ")
    return CollectorError(message, vendor=SOURCE, code=code)


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def _is_pattern(value: str) -> bool:
    return any(ch in value for ch in "*?[")


def _partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _canonical(raw: str | None, what: str) -> str | None:
    if not raw:
        return None
    try:
        return canonical_ip(raw)
    except InvalidIPError as exc:
        logger.warning("aws: skipping %s: %s", what, exc)
        return None


def _details(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in values.items() if v not in (None, "")))


def _richer(old: CloudAddress | None, new: CloudAddress) -> CloudAddress:
    """Merge two records of one IP: the Elastic IP record wins, and gains the interface's details."""
    if old is None:
        return new
    keep, other = (new, old) if _rank(new) > _rank(old) else (old, new)
    merged = dict(other.details)
    merged.update(dict(keep.details))
    return CloudAddress(
        ip=keep.ip,
        vendor=keep.vendor,
        region=keep.region,
        account=keep.account,
        resource_id=keep.resource_id,
        kind=keep.kind,
        source=keep.source,
        confidence=keep.confidence,
        details=tuple(sorted(merged.items())),
        observed_at=keep.observed_at,
    )


def _region_parts(known: list[str], count: int, *, rest: bool = True) -> list[str]:
    """WHERE conditions splitting the regions into `count` parts, round-robin over `known`.

    `rest`: the last part takes every region not dealt to the others (``NOT awsRegion IN``), known or not; without it,
    the parts cover exactly `known`.
    """

    def quoted(regions: list[str]) -> str:
        return ", ".join(f"'{r}'" for r in regions)

    if not rest:
        count = max(1, min(count, len(known)))
        return [f"awsRegion IN ({quoted(known[i::count])})" for i in range(count)] if known else []
    if count <= 1 or len(known) < count:
        return [""]
    shares = [known[i::count] for i in range(count - 1)]
    listed = [r for share in shares for r in share]
    return [f"awsRegion IN ({quoted(share)})" for share in shares] + [f"NOT awsRegion IN ({quoted(listed)})"]


def _pascal(value: Any) -> Any:
    """A configuration item's ``configuration`` in the EC2 API's key style (``publicIp`` -> ``PublicIp``)."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def _capture_time(text: Any) -> datetime:
    """``configurationItemCaptureTime`` (ISO 8601) as an aware UTC datetime.

    Absent or unreadable: the epoch, i.e. "observed long ago", so that the plan never trusts it over a mapping's own
    ``modified_on`` (None would mean "read live").
    """
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        logger.warning("aws: unreadable configurationItemCaptureTime %r: treated as old", text)
        return _LONG_AGO
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rank(record: CloudAddress) -> int:
    return 1 if record.kind in ("elastic-ip", "carrier-ip") else 0


def _interface_kind(eni: dict[str, Any]) -> str:
    """What holds an interface's IPs: ``instance``, ``nat-gateway``, ``network-load-balancer``…"""
    interface_type = eni.get("InterfaceType") or "interface"
    if interface_type != "interface":
        return _INTERFACE_KINDS.get(interface_type, interface_type.replace("_", "-"))
    description = eni.get("Description") or ""
    if description.startswith("ELB app/"):
        return "application-load-balancer"
    if description.startswith("ELB net/"):
        return "network-load-balancer"
    if description.startswith("ELB "):
        return "classic-load-balancer"
    if (eni.get("Attachment") or {}).get("InstanceId"):
        return "instance"
    return "network-interface"


def _border_group(zone: str | None, region: str) -> str:
    """Network border group of an availability zone: the region, or the Local / Wavelength Zone's group.

    ``us-east-1a`` -> ``us-east-1``; Local Zone ``us-west-2-lax-1a`` -> ``us-west-2-lax-1``; Wavelength Zone
    ``us-east-1-wl1-bos-wlz-1`` -> itself.
    """
    if not zone or not zone.startswith(region + "-"):
        return region
    return zone[:-1] if zone[-1].isalpha() and zone[-2].isdigit() else zone
