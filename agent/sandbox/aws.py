"""A hand-written AWS fake (EC2 + the STS and Organizations calls the collector makes), real wire format, on loopback.

Why not only moto: moto ignores the DescribeRegions opt-in filter, never paginates DescribeNetworkInterfaces, has no
NAT-gateway / load-balancer interface types, no Local Zone border groups and no way to throttle or deny one region.

What it serves (one URL for every service and region, like moto; the service and region come from the SigV4
``Authorization`` header, the account from the access key id, exactly as AWS resolves them):

* EC2 (``ec2`` query protocol, XML, API 2016-11-15): ``DescribeRegions`` (honours ``AllRegions``, ``RegionName.N``
  and the ``opt-in-status`` / ``region-name`` filters; without ``AllRegions`` only enabled regions),
  ``DescribeAddresses``, ``DescribeNetworkInterfaces`` (``MaxResults`` 5-1000, opaque ``NextToken``).
  Disabled regions answer ``AuthFailure`` like AWS does.
* STS (``query`` protocol, XML): ``GetCallerIdentity``, ``AssumeRole`` (trust policy by account, external id,
  ``DurationSeconds`` bounded by the role's maximum session duration, partition of the role ARN).
* Organizations (JSON 1.1): ``ListAccounts``, ``ListAccountsForParent``, ``ListChildren`` (``MaxResults`` ≤ 20,
  ``NextToken``), only for callers in the management account.
* AWS Config (JSON 1.1, ``StarlingDoveService``): ``SelectAggregateResourceConfig`` and
  ``DescribeConfigurationAggregatorSourcesStatus`` over aggregators added with `AwsFake.add_aggregator`, whose
  configuration items are built from the same accounts, EIPs and interfaces as the EC2 answers (see `aws_config`).

Every request's SigV4 signature is verified with the secret of its access key (unknown key -> ``AuthFailure`` /
``InvalidClientTokenId``; wrong signature -> ``SignatureDoesNotMatch``; assumed-role keys need their session token
and expire). Errors can be injected per account / region / action (`AwsFake.fail`), and a latency per EC2 and Config
call can be added (`AwsFake.latency`) for benchmarks. Standard library only: the `demo` command runs it without dev
dependencies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from agent.clock import SYSTEM_CLOCK, Clock
from agent.sandbox import aws_config
from agent.sandbox.aws_config import ConfigApiError, FakeAggregator
from agent.sandbox.demo import DemoCloud
from agent.sandbox.server import serve_in_background, stop_serving

__all__ = [
    "DEFAULT_REGIONS",
    "OPT_IN_REGIONS",
    "AwsFake",
    "FakeAccount",
    "FakeAddress",
    "FakeInterface",
    "FakeRegion",
    "start_demo",
]

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"

DEFAULT_REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
"""The 17 regions enabled by default in every commercial account (``opt-in-not-required``)."""
OPT_IN_REGIONS = ("af-south-1", "ap-east-1", "eu-south-1", "me-south-1", "il-central-1", "mx-central-1")
"""A few opt-in regions; new fake accounts have them ``not-opted-in``."""

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_ROLE_ARN = re.compile(r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):role/(?P<name>.+)$")
_EC2_STATUS = {
    "AuthFailure": 401,
    "OptInRequired": 401,
    "UnauthorizedOperation": 403,
    "RequestLimitExceeded": 503,
    "InternalError": 500,
    "Unavailable": 503,
}
_ORG_PAGE_MAX = 20


class _ApiError(Exception):
    """An error answer: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class FakeAddress:
    """An Elastic IP (``DescribeAddresses`` item)."""

    public_ip: str
    allocation_id: str
    network_border_group: str
    network_interface_id: str | None = None
    instance_id: str | None = None
    private_ip: str | None = None
    association_id: str | None = None
    public_ipv4_pool: str = "amazon"
    service_managed: str | None = None  # "alb" | "nlb" | "rnat" | "rds"


@dataclass
class FakeInterface:
    """A network interface (``DescribeNetworkInterfaces`` item). `public_ips` are per private IP, primary first."""

    id: str
    availability_zone: str
    interface_type: str = "interface"  # interface | nat_gateway | network_load_balancer | lambda | ...
    description: str = ""
    instance_id: str | None = None
    public_ips: list[str | None] = field(default_factory=list)
    allocation_ids: dict[str, str] = field(default_factory=dict)  # public ip -> EIP allocation id
    ipv6: list[str] = field(default_factory=list)
    requester_id: str | None = None
    private_ips: list[str] = field(default_factory=list)


@dataclass
class FakeRegion:
    """One region of one account."""

    name: str
    opt_in_status: str = "opt-in-not-required"  # | opted-in | not-opted-in
    addresses: list[FakeAddress] = field(default_factory=list)
    interfaces: list[FakeInterface] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.opt_in_status != "not-opted-in"


@dataclass
class _Role:
    name: str
    trusted_accounts: frozenset[str] | None  # None: any account of the partition
    external_id: str | None
    max_session_duration: int = 3600


@dataclass
class FakeAccount:
    """One AWS account: its long-term key, regions, roles and Organizations placement."""

    id: str
    access_key: str
    secret_key: str = field(repr=False)
    partition: str = "aws"
    regions: dict[str, FakeRegion] = field(default_factory=dict)
    roles: dict[str, _Role] = field(default_factory=dict)
    parent_id: str = ""  # OU or root id, when in the organization
    status: str = "ACTIVE"  # Organizations state: ACTIVE | SUSPENDED | PENDING_CLOSURE
    name: str = ""

    def region(self, name: str) -> FakeRegion:
        """The region `name`, created (enabled) if missing."""
        return self.regions.setdefault(name, FakeRegion(name))


@dataclass
class _Key:
    account: str
    secret: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    expires: float | None = None
    arn: str = ""


@dataclass
class _Rule:
    code: str
    message: str
    account: str | None
    region: str | None
    action: str | None
    remaining: int | None
    status: int | None


class AwsFake:
    """The fake's state and its HTTP server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, max_page_size: int = 1000) -> None:
        self.clock = clock
        self.max_page_size = max_page_size
        """Largest DescribeNetworkInterfaces page the fake returns, whatever MaxResults asks (AWS may return less)."""
        self.latency = 0.0
        """Seconds added to every EC2 and Config call (benchmarks)."""
        self.aggregators: list[FakeAggregator] = []
        self.org_id = "o-f4k3f4k3f4"
        self._select_snapshots: dict[str, list[dict[str, Any]]] = {}
        self.accounts: dict[str, FakeAccount] = {}
        self.calls: Counter[tuple[str, str]] = Counter()  # (service, action) -> count
        self.requests: list[tuple[str, str, str, str]] = []  # (service, action, account, region)
        self.management_account: str | None = None
        self.root_id = "r-f4k3"
        self.ous: dict[str, str] = {}  # ou id -> parent id
        self._keys: dict[str, _Key] = {}
        self._rules: list[_Rule] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ seeding

    def add_account(
        self,
        account_id: str,
        *,
        partition: str = "aws",
        regions: Iterable[str] = DEFAULT_REGIONS,
        opt_in_regions: Iterable[str] = OPT_IN_REGIONS,
        name: str = "",
    ) -> FakeAccount:
        """Create an account with a long-term key, its enabled `regions` and its not-opted-in `opt_in_regions`."""
        with self._lock:
            key = f"AKIA{uuid.uuid4().hex[:16].upper()}"
            account = FakeAccount(account_id, key, f"secret-{uuid.uuid4().hex}", partition, name=name or account_id)
            for region in regions:
                account.regions[region] = FakeRegion(region)
            for region in opt_in_regions:
                account.regions.setdefault(region, FakeRegion(region, "not-opted-in"))
            self.accounts[account_id] = account
            self._keys[key] = _Key(account_id, account.secret_key, arn=f"arn:{partition}:iam::{account_id}:user/fake")
            return account

    def add_role(
        self,
        account_id: str,
        name: str,
        *,
        trusted_accounts: Iterable[str] | None = None,
        external_id: str | None = None,
        max_session_duration: int = 3600,
    ) -> None:
        """Let `trusted_accounts` (default: any account of the partition) assume role `name` in `account_id`."""
        trusted = frozenset(trusted_accounts) if trusted_accounts is not None else None
        with self._lock:
            self.accounts[account_id].roles[name] = _Role(name, trusted, external_id, max_session_duration)

    def create_organization(self, management_account: str) -> None:
        """Make `management_account` the management account; accounts added with `join_organization` are members."""
        with self._lock:
            self.management_account = management_account
            self.accounts[management_account].parent_id = self.root_id

    def add_ou(self, parent_id: str, ou_id: str) -> str:
        """Add an organizational unit under `parent_id` (the root or another OU)."""
        with self._lock:
            if parent_id != self.root_id and parent_id not in self.ous:
                raise KeyError(parent_id)
            self.ous[ou_id] = parent_id
            return ou_id

    def join_organization(self, account_id: str, parent_id: str | None = None, *, status: str = "ACTIVE") -> None:
        """Place an account in the organization (under the root by default)."""
        with self._lock:
            account = self.accounts[account_id]
            account.parent_id = parent_id or self.root_id
            account.status = status

    def add_address(self, account_id: str, region: str, public_ip: str, **kwargs: Any) -> FakeAddress:
        """Allocate an Elastic IP (network border group defaults to the region)."""
        with self._lock:
            kwargs.setdefault("allocation_id", f"eipalloc-{next(self._ids):017x}")
            kwargs.setdefault("network_border_group", region)
            address = FakeAddress(public_ip=public_ip, **kwargs)
            self.accounts[account_id].region(region).addresses.append(address)
            return address

    def add_interface(self, account_id: str, region: str, **kwargs: Any) -> FakeInterface:
        """Create a network interface (ENI); `availability_zone` defaults to ``<region>a``."""
        with self._lock:
            kwargs.setdefault("id", f"eni-{next(self._ids):017x}")
            kwargs.setdefault("availability_zone", f"{region}a")
            interface = FakeInterface(**kwargs)
            n = next(self._ids)
            if not interface.private_ips:
                count = max(1, len(interface.public_ips))
                interface.private_ips = [f"10.{n % 250}.{i}.{(n // 250) % 250 + 1}" for i in range(count)]
            self.accounts[account_id].region(region).interfaces.append(interface)
            return interface

    def add_aggregator(
        self,
        name: str,
        account_id: str,
        region: str = "us-east-1",
        *,
        source_accounts: Iterable[str] | None = None,
        source_regions: Iterable[str] | None = None,
        capture_time: float | None = None,
    ) -> FakeAggregator:
        """A Config aggregator in `account_id` / `region`: over the organization (default) or `source_accounts`."""
        with self._lock:
            if source_accounts is None and self.management_account is None:
                raise ValueError("an organization aggregator needs create_organization() first")
            aggregator = FakeAggregator(
                name,
                account_id,
                region,
                None if source_accounts is None else list(source_accounts),
                None if source_regions is None else list(source_regions),
                capture_time,
            )
            self.aggregators.append(aggregator)
            return aggregator

    def fail(
        self,
        code: str,
        *,
        account: str | None = None,
        region: str | None = None,
        action: str | None = None,
        times: int | None = None,
        message: str = "",
        status: int | None = None,
    ) -> None:
        """Answer matching requests with error `code` (`times` times, or forever). None matches anything."""
        with self._lock:
            self._rules.append(_Rule(code, message or f"Injected {code}.", account, region, action, times, status))

    def credentials(self, account_id: str) -> dict[str, str]:
        """Environment variables holding `account_id`'s long-term key."""
        account = self.accounts[account_id]
        return {"AWS_ACCESS_KEY_ID": account.access_key, "AWS_SECRET_ACCESS_KEY": account.secret_key}

    # ------------------------------------------------------------------ server

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AwsFake:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.daemon_threads = True
        server.request_queue_size = 256  # many concurrent SDK connections (default backlog is 5)
        server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = serve_in_background(server, "aws-fake")
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_serving(self._server)
            self._server = None

    def __enter__(self) -> AwsFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        """Serve one request: (status, content type, body)."""
        auth = _AUTH.match(headers.get("authorization", ""))
        service = auth["service"] if auth else _guess_service(headers)
        try:
            if method != "POST" or urlsplit(path).path != "/":
                raise _ApiError("InvalidAction", f"{method} {path} is not supported.", 400)
            if auth is None:
                raise _ApiError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
            account, key = self._authenticate(auth, method, path, headers, body)
            region = auth["region"]
            if service in ("organizations", "config"):
                prefix, _, action = headers.get("x-amz-target", "").rpartition(".")
                if service == "config" and prefix != "StarlingDoveService":
                    raise _ApiError("UnknownOperationException", f"Unknown target {prefix}.{action}.")
                params: dict[str, Any] = json.loads(body or b"{}")
            else:
                params = dict(parse_qsl(body.decode(), keep_blank_values=True))
                action = params.get("Action", "")
            with self._lock:
                self.calls[(service, action)] += 1
                self.requests.append((service, action, account.id, region))
            self._check_rules(account.id, region, action)
            if service == "ec2":
                if self.latency:
                    time.sleep(self.latency)
                return 200, "text/xml;charset=UTF-8", self._ec2(account, region, action, params).encode()
            if service == "sts":
                return 200, "text/xml", self._sts(account, key, action, params).encode()
            if service == "organizations":
                return 200, "application/x-amz-json-1.1", json.dumps(self._org(account, action, params)).encode()
            if service == "config":
                if self.latency:
                    time.sleep(self.latency)
                try:
                    answer = self._config(account, region, action, params)
                except ConfigApiError as err:
                    raise _ApiError(err.code, err.message, err.status) from None
                return 200, "application/x-amz-json-1.1", json.dumps(answer).encode()
            raise _ApiError("InvalidAction", f"Service {service!r} is not served by this fake.", 400)
        except _ApiError as err:
            return _error_body(service, err)

    def _authenticate(
        self, auth: re.Match[str], method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[FakeAccount, _Key]:
        service = auth["service"]
        invalid = "InvalidClientTokenId" if service != "ec2" else "AuthFailure"
        if service == "organizations":
            invalid = "UnrecognizedClientException"
        with self._lock:
            key = self._keys.get(auth["key"])
        if key is None:
            raise _ApiError(invalid, "The security token included in the request is invalid.", 403)
        if key.token is not None and headers.get("x-amz-security-token") != key.token:
            raise _ApiError(invalid, "The security token included in the request is invalid.", 403)
        if key.expires is not None and self.clock.time() >= key.expires:
            code = {"sts": "ExpiredToken", "ec2": "RequestExpired"}.get(service, "ExpiredTokenException")
            raise _ApiError(code, "The security token included in the request is expired", 400)
        if not hmac.compare_digest(_signature(key.secret, auth, method, path, headers, body), auth["sig"]):
            raise _ApiError("SignatureDoesNotMatch", "The request signature we calculated does not match.", 403)
        account = self.accounts[key.account]
        region = auth["region"]
        if service == "ec2":
            known = account.regions.get(region)
            if known is None or not known.enabled:
                raise _ApiError("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
        return account, key

    def _check_rules(self, account: str, region: str, action: str) -> None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0:
                    continue
                if rule.account not in (None, account) or rule.region not in (None, region):
                    continue
                if rule.action not in (None, action):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                status = rule.status or _EC2_STATUS.get(rule.code, 400)
                raise _ApiError(rule.code, rule.message, status)

    # ------------------------------------------------------------------ EC2

    def _ec2(self, account: FakeAccount, region: str, action: str, params: dict[str, str]) -> str:
        if params.get("Version") != "2016-11-15":
            raise _ApiError("InvalidParameterValue", f"Invalid API version {params.get('Version')!r}.")
        if action == "DescribeRegions":
            return self._describe_regions(account, params)
        if action == "DescribeAddresses":
            _no_filters(params)
            with self._lock:
                items = "".join(_address_xml(a, account.id) for a in account.regions[region].addresses)
            return _ec2_response(action, f"<addressesSet>{items}</addressesSet>")
        if action == "DescribeNetworkInterfaces":
            _no_filters(params)
            return self._describe_network_interfaces(account, region, params)
        raise _ApiError("InvalidAction", f"The action {action} is not valid for this web service.")

    def _describe_regions(self, account: FakeAccount, params: dict[str, str]) -> str:
        filters = _filters(params)
        names = [v for k, v in params.items() if k.startswith("RegionName.")]
        all_regions = params.get("AllRegions", "false") == "true"
        with self._lock:
            regions = sorted(account.regions.values(), key=lambda r: r.name)
        for name in names:
            if name not in account.regions:
                raise _ApiError("InvalidParameterValue", f"Invalid region: {name}")
        items = []
        for r in regions:
            if not all_regions and not names and not r.enabled:
                continue
            if names and r.name not in names:
                continue
            if not all(_filter_match(name, values, r) for name, values in filters.items()):
                continue
            items.append(
                f"<item><regionName>{r.name}</regionName><regionEndpoint>ec2.{r.name}.amazonaws.com</regionEndpoint>"
                f"<optInStatus>{r.opt_in_status}</optInStatus></item>"
            )
        return _ec2_response("DescribeRegions", f"<regionInfo>{''.join(items)}</regionInfo>")

    def _describe_network_interfaces(self, account: FakeAccount, region: str, params: dict[str, str]) -> str:
        max_results = None
        if "MaxResults" in params:
            max_results = int(params["MaxResults"])
            if not 5 <= max_results <= 1000:
                raise _ApiError("InvalidParameterValue", f"Value ({max_results}) for parameter maxResults is invalid.")
        start = 0
        if "NextToken" in params:
            try:
                start = int(base64.urlsafe_b64decode(params["NextToken"]).decode().removeprefix("eni-page:"))
            except ValueError:
                raise _ApiError("InvalidParameterValue", "The specified token is invalid.") from None
        with self._lock:
            interfaces = list(account.regions[region].interfaces)
        size = min(max_results or len(interfaces) or 1, self.max_page_size)
        page = interfaces[start : start + size]
        token = ""
        if start + size < len(interfaces):
            token = f"<nextToken>{base64.urlsafe_b64encode(f'eni-page:{start + size}'.encode()).decode()}</nextToken>"
        items = "".join(_interface_xml(i, account.id) for i in page)
        return _ec2_response("DescribeNetworkInterfaces", f"<networkInterfaceSet>{items}</networkInterfaceSet>{token}")

    # ------------------------------------------------------------------ STS

    def _sts(self, account: FakeAccount, key: _Key, action: str, params: dict[str, str]) -> str:
        if params.get("Version") != "2011-06-15":
            raise _ApiError("InvalidAction", f"Could not find operation {action} for version {params.get('Version')}")
        if action == "GetCallerIdentity":
            result = f"<Arn>{escape(key.arn)}</Arn><UserId>AIDAFAKE{account.id}</UserId><Account>{account.id}</Account>"
            return _sts_response(action, result)
        if action == "AssumeRole":
            return _sts_response(action, self._assume_role(account, key, params))
        raise _ApiError("InvalidAction", f"Could not find operation {action} for version 2011-06-15")

    def _assume_role(self, caller: FakeAccount, key: _Key, params: dict[str, str]) -> str:
        role_arn = params.get("RoleArn", "")
        session = params.get("RoleSessionName", "")
        if not _SESSION_NAME.match(session):
            raise _ApiError("ValidationError", f"1 validation error detected: Value '{session}' at 'roleSessionName'")
        duration = int(params.get("DurationSeconds", "3600"))
        parsed = _ROLE_ARN.match(role_arn)
        denied = _ApiError(
            "AccessDenied", f"User: {key.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}", 403
        )
        if parsed is None:
            raise _ApiError("ValidationError", f"{role_arn} is invalid")
        with self._lock:
            target = self.accounts.get(parsed["account"])
            role = target.roles.get(parsed["name"]) if target else None
        if target is None or role is None or not parsed["partition"] == caller.partition == target.partition:
            raise denied
        if role.trusted_accounts is not None and caller.id not in role.trusted_accounts:
            raise denied
        if role.external_id is not None and params.get("ExternalId") != role.external_id:
            raise denied
        if not 900 <= duration <= role.max_session_duration:
            raise _ApiError(
                "ValidationError",
                f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role ({duration}).",
            )
        expires = self.clock.time() + duration
        access = f"ASIA{uuid.uuid4().hex[:16].upper()}"
        secret = f"tmp-{uuid.uuid4().hex}"
        token = f"token-{uuid.uuid4().hex}"
        arn = f"arn:{target.partition}:sts::{target.id}:assumed-role/{role.name}/{session}"
        with self._lock:
            self._keys[access] = _Key(target.id, secret, token, expires, arn)
        expiration = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"<AssumedRoleUser><Arn>{escape(arn)}</Arn><AssumedRoleId>AROAFAKE:{escape(session)}</AssumedRoleId>"
            f"</AssumedRoleUser><Credentials><AccessKeyId>{access}</AccessKeyId>"
            f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
            f"<Expiration>{expiration}</Expiration></Credentials><PackedPolicySize>6</PackedPolicySize>"
        )

    # ------------------------------------------------------------------ Config

    def _config(self, caller: FakeAccount, region: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("ConfigurationAggregatorName")
        with self._lock:
            aggregator = next(
                (a for a in self.aggregators if (a.name, a.account, a.region) == (name, caller.id, region)), None
            )
        if action not in ("SelectAggregateResourceConfig", "DescribeConfigurationAggregatorSourcesStatus"):
            raise _ApiError("UnknownOperationException", f"Unknown operation {action}.")
        if aggregator is None:  # aggregators are per account and region, like AWS
            raise _ApiError(
                "NoSuchConfigurationAggregatorException",
                f"The configuration aggregator {name!r} does not exist in account {caller.id} region {region}.",
            )
        accounts, regions = self._aggregated(aggregator)
        if action == "DescribeConfigurationAggregatorSourcesStatus":
            return aws_config.sources_status(aggregator, [a.id for a in accounts], regions, params, self.org_id)
        with self._lock:  # the snapshots are shared by the server's threads
            return aws_config.select(
                lambda: self._configuration_items(aggregator, accounts, regions), params, self._select_snapshots
            )

    def _aggregated(self, aggregator: FakeAggregator) -> tuple[list[FakeAccount], list[str]]:
        """The source accounts and the source regions (where enabled in some source account) of `aggregator`."""
        with self._lock:
            if aggregator.source_accounts is None:
                accounts = [a for a in self.accounts.values() if a.parent_id and a.status == "ACTIVE"]
            else:
                accounts = [self.accounts[i] for i in aggregator.source_accounts if i in self.accounts]
            enabled = {r.name for a in accounts for r in a.regions.values() if r.enabled}
        wanted = enabled if aggregator.source_regions is None else enabled & set(aggregator.source_regions)
        return sorted(accounts, key=lambda a: a.id), sorted(wanted)

    def _configuration_items(
        self, aggregator: FakeAggregator, accounts: list[FakeAccount], regions: list[str]
    ) -> list[dict[str, Any]]:
        captured = aws_config.capture_text(aggregator.capture_time or self.clock.time())
        items: list[dict[str, Any]] = []
        with self._lock:
            for account in accounts:
                for region in regions:
                    known = account.regions.get(region)
                    if known is None or not known.enabled:
                        continue
                    for address in known.addresses:
                        items.append(_eip_item(address, account, region, captured))
                    for interface in known.interfaces:
                        items.append(_eni_item(interface, account, region, captured))
        return items

    # ------------------------------------------------------------------ Organizations

    def _org(self, caller: FakeAccount, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if self.management_account is None:
            raise _ApiError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
        if caller.id != self.management_account:
            raise _ApiError("AccessDeniedException", "You don't have permissions to access this resource.")
        with self._lock:
            members = [a for a in self.accounts.values() if a.parent_id]
            ous = dict(self.ous)
        if action == "ListAccounts":
            return _org_page("Accounts", [_org_account(a, self.management_account) for a in members], params)
        if action == "ListAccountsForParent":
            parent = self._parent(params, ous)
            selected = [_org_account(a, self.management_account) for a in members if a.parent_id == parent]
            return _org_page("Accounts", selected, params)
        if action == "ListChildren":
            parent = self._parent(params, ous)
            kind = params.get("ChildType")
            if kind == "ACCOUNT":
                children = [{"Id": a.id, "Type": "ACCOUNT"} for a in members if a.parent_id == parent]
            elif kind == "ORGANIZATIONAL_UNIT":
                children = [{"Id": o, "Type": "ORGANIZATIONAL_UNIT"} for o, p in ous.items() if p == parent]
            else:
                raise _ApiError("InvalidInputException", f"Invalid ChildType {kind!r}.")
            return _org_page("Children", children, params)
        raise _ApiError("UnknownOperationException", f"Unknown operation {action}.")

    def _parent(self, params: dict[str, Any], ous: dict[str, str]) -> str:
        parent = str(params.get("ParentId", ""))
        if parent != self.root_id and parent not in ous:
            raise _ApiError("ParentNotFoundException", f"We can't find a root or OU with the ParentId {parent!r}.")
        return parent


# ---------------------------------------------------------------------- wire helpers


class _Handler(BaseHTTPRequestHandler):
    owner: AwsFake
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall per answer

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, content_type, payload = self.owner.handle(self.command, self.path, headers, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # silence the access log
        pass


def _guess_service(headers: dict[str, str]) -> str:
    return "organizations" if "x-amz-target" in headers else "ec2"


def _signature(secret: str, auth: re.Match[str], method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """Recompute the SigV4 signature (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)."""
    signed = auth["signed"].split(";")
    url = urlsplit(path)
    query = "&".join(sorted(f"{k}={v}" for k, v in (p.split("=", 1) for p in url.query.split("&") if "=" in p)))
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical = "\n".join([method, url.path or "/", query, canonical_headers, ";".join(signed), payload_hash])
    scope = f"{auth['date']}/{auth['region']}/{auth['service']}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", headers.get("x-amz-date", ""), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (auth["date"], auth["region"], auth["service"], "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _error_body(service: str, err: _ApiError) -> tuple[int, str, bytes]:
    request_id = str(uuid.uuid4())
    if service == "config":
        return (
            err.status,
            "application/x-amz-json-1.1",
            json.dumps({"__type": err.code, "message": err.message}).encode(),
        )
    if service == "organizations":
        payload = json.dumps({"__type": err.code, "Message": err.message}).encode()
        return err.status, "application/x-amz-json-1.1", payload
    if service == "sts":
        xml = (
            f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{escape(err.code)}</Code>'
            f"<Message>{escape(err.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return err.status, "text/xml", xml.encode()
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(err.code)}</Code>'
        f"<Message>{escape(err.message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
    )
    return err.status, "text/xml;charset=UTF-8", xml.encode()


def _ec2_response(action: str, inner: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
        f"<requestId>{uuid.uuid4()}</requestId>{inner}</{action}Response>"
    )


def _sts_response(action: str, result: str) -> str:
    return (
        f'<{action}Response xmlns="{STS_NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
    )


def _filters(params: dict[str, str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for key, name in params.items():
        m = re.fullmatch(r"Filter\.(\d+)\.Name", key)
        if m:
            prefix = f"Filter.{m[1]}.Value."
            filters[name] = [v for k, v in params.items() if k.startswith(prefix)]
    return filters


def _no_filters(params: dict[str, str]) -> None:
    # The collector sends none; AWS would apply them, so a fake that ignored them would hide a bug.
    for name in _filters(params):
        raise _ApiError("InvalidParameterValue", f"The filter '{name}' is not supported by this fake.")


def _filter_match(name: str, values: list[str], region: FakeRegion) -> bool:
    if name == "opt-in-status":
        return region.opt_in_status in values
    if name == "region-name":
        return region.name in values
    if name == "endpoint":
        return f"ec2.{region.name}.amazonaws.com" in values
    raise _ApiError("InvalidParameterValue", f"The filter '{name}' is invalid")


def _tag(name: str, value: str | None) -> str:
    return f"<{name}>{escape(value)}</{name}>" if value is not None else ""


def _address_xml(a: FakeAddress, owner: str) -> str:
    return (
        "<item>"
        + _tag("publicIp", a.public_ip)
        + _tag("allocationId", a.allocation_id)
        + "<domain>vpc</domain>"
        + _tag("instanceId", a.instance_id)
        + _tag("associationId", a.association_id or (f"eipassoc-{a.allocation_id[9:]}" if a.private_ip else None))
        + _tag("networkInterfaceId", a.network_interface_id)
        + _tag("networkInterfaceOwnerId", owner if a.network_interface_id else None)
        + _tag("privateIpAddress", a.private_ip)
        + _tag("publicIpv4Pool", a.public_ipv4_pool)
        + _tag("networkBorderGroup", a.network_border_group)
        + _tag("serviceManaged", a.service_managed)
        + "<tagSet/></item>"
    )


def _association_xml(ip: str, i: FakeInterface, owner: str) -> str:
    allocation = i.allocation_ids.get(ip)
    return (
        "<association>"
        + _tag("publicIp", ip)
        + _tag("publicDnsName", f"ec2-{ip.replace('.', '-')}.compute.amazonaws.com")
        + _tag("ipOwnerId", owner if allocation else "amazon")
        + _tag("allocationId", allocation)
        + _tag("associationId", f"eipassoc-{allocation[9:]}" if allocation else None)
        + "</association>"
    )


def _interface_xml(i: FakeInterface, owner: str) -> str:
    public = list(i.public_ips) + [None] * (len(i.private_ips) - len(i.public_ips))
    privates = "".join(
        "<item>"
        + _tag("privateIpAddress", private)
        + f"<primary>{'true' if n == 0 else 'false'}</primary>"
        + (_association_xml(ip, i, owner) if ip else "")
        + "</item>"
        for n, (private, ip) in enumerate(zip(i.private_ips, public, strict=False))
    )
    ipv6 = "".join(
        f"<item><ipv6Address>{escape(v6)}</ipv6Address><isPrimaryIpv6>false</isPrimaryIpv6></item>" for v6 in i.ipv6
    )
    attachment = ""
    if i.instance_id:
        attachment = (
            f"<attachment><attachmentId>eni-attach-{i.id[4:]}</attachmentId><instanceId>{i.instance_id}</instanceId>"
            f"<instanceOwnerId>{owner}</instanceOwnerId><deviceIndex>0</deviceIndex><status>attached</status>"
            "<attachTime>2024-01-01T00:00:00.000Z</attachTime><deleteOnTermination>true</deleteOnTermination>"
            "</attachment>"
        )
    return (
        "<item>"
        + _tag("networkInterfaceId", i.id)
        + "<subnetId>subnet-0f4k3</subnetId><vpcId>vpc-0f4k3</vpcId>"
        + _tag("availabilityZone", i.availability_zone)
        + _tag("description", i.description)
        + _tag("ownerId", owner)
        + _tag("requesterId", i.requester_id)
        + f"<requesterManaged>{'true' if i.requester_id else 'false'}</requesterManaged>"
        + "<status>in-use</status><macAddress>02:00:00:00:00:01</macAddress>"
        + _tag("privateIpAddress", i.private_ips[0] if i.private_ips else None)
        + "<sourceDestCheck>true</sourceDestCheck><groupSet/>"
        + attachment
        + (_association_xml(public[0], i, owner) if public and public[0] else "")
        + "<tagSet/>"
        + f"<privateIpAddressesSet>{privates}</privateIpAddressesSet>"
        + f"<ipv6AddressesSet>{ipv6}</ipv6AddressesSet>"
        + _tag("interfaceType", i.interface_type)
        + "</item>"
    )


def _ci(
    resource_type: str, resource_id: str, arn: str, account: FakeAccount, region: str, captured: str
) -> dict[str, Any]:
    """The common fields of a configuration item, as advanced queries return them."""
    return {
        "accountId": account.id,
        "awsRegion": region,
        "arn": arn,
        "availabilityZone": "Not Applicable",
        "configurationItemCaptureTime": captured,
        "configurationItemStatus": "OK",
        "resourceCreationTime": "2024-01-01T00:00:00.000Z",
        "resourceId": resource_id,
        "resourceType": resource_type,
        "version": "1.3",
        "tags": [],
        "relationships": [],
    }


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _eip_item(a: FakeAddress, account: FakeAccount, region: str, captured: str) -> dict[str, Any]:
    arn = f"arn:{account.partition}:ec2:{region}:{account.id}:eip-allocation/{a.allocation_id}"
    item = _ci("AWS::EC2::EIP", a.allocation_id, arn, account, region, captured)
    item["configuration"] = _compact(
        {
            "publicIp": a.public_ip,
            "allocationId": a.allocation_id,
            "domain": "vpc",
            "instanceId": a.instance_id,
            "associationId": a.association_id or (f"eipassoc-{a.allocation_id[9:]}" if a.private_ip else None),
            "networkInterfaceId": a.network_interface_id,
            "networkInterfaceOwnerId": account.id if a.network_interface_id else None,
            "privateIpAddress": a.private_ip,
            "publicIpv4Pool": a.public_ipv4_pool,
        }
    )
    return item


def _association(ip: str, i: FakeInterface, owner: str) -> dict[str, Any]:
    allocation = i.allocation_ids.get(ip)
    return _compact(
        {
            "publicIp": ip,
            "publicDnsName": f"ec2-{ip.replace('.', '-')}.compute.amazonaws.com",
            "ipOwnerId": owner if allocation else "amazon",
            "allocationId": allocation,
            "associationId": f"eipassoc-{allocation[9:]}" if allocation else None,
        }
    )


def _eni_item(i: FakeInterface, account: FakeAccount, region: str, captured: str) -> dict[str, Any]:
    """An interface's configuration item: the DescribeNetworkInterfaces item in camelCase, as Config records it."""
    arn = f"arn:{account.partition}:ec2:{region}:{account.id}:network-interface/{i.id}"
    item = _ci("AWS::EC2::NetworkInterface", i.id, arn, account, region, captured)
    item["availabilityZone"] = i.availability_zone
    public = list(i.public_ips) + [None] * (len(i.private_ips) - len(i.public_ips))
    privates = [
        _compact(
            {
                "privateIpAddress": private,
                "primary": n == 0,
                "association": _association(ip, i, account.id) if ip else None,
            }
        )
        for n, (private, ip) in enumerate(zip(i.private_ips, public, strict=False))
    ]
    attachment = None
    if i.instance_id:
        attachment = {
            "attachmentId": f"eni-attach-{i.id[4:]}",
            "instanceId": i.instance_id,
            "instanceOwnerId": account.id,
            "deviceIndex": 0,
            "status": "attached",
            "deleteOnTermination": True,
        }
    item["configuration"] = _compact(
        {
            "networkInterfaceId": i.id,
            "subnetId": "subnet-0f4k3",
            "vpcId": "vpc-0f4k3",
            "availabilityZone": i.availability_zone,
            "description": i.description,
            "ownerId": account.id,
            "requesterId": i.requester_id,
            "requesterManaged": bool(i.requester_id),
            "status": "in-use",
            "macAddress": "02:00:00:00:00:01",
            "privateIpAddress": i.private_ips[0] if i.private_ips else None,
            "sourceDestCheck": True,
            "groups": [],
            "attachment": attachment,
            "association": _association(public[0], i, account.id) if public and public[0] else None,
            "privateIpAddresses": privates,
            "ipv6Addresses": [{"ipv6Address": v6} for v6 in i.ipv6],
            "interfaceType": i.interface_type,
        }
    )
    return item


def _org_account(a: FakeAccount, management: str) -> dict[str, Any]:
    return {
        "Id": a.id,
        "Arn": f"arn:{a.partition}:organizations::{management}:account/o-f4k3/{a.id}",
        "Email": f"{a.id}@example.com",
        "Name": a.name,
        "Status": "SUSPENDED" if a.status == "SUSPENDED" else "ACTIVE",  # deprecated field, as AWS still sends it
        "State": a.status,
        "JoinedMethod": "CREATED",
        "JoinedTimestamp": 1_700_000_000.0,
    }


def _org_page(key: str, items: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    size = int(params.get("MaxResults") or _ORG_PAGE_MAX)
    if not 1 <= size <= _ORG_PAGE_MAX:
        raise _ApiError("InvalidInputException", f"MaxResults must be between 1 and {_ORG_PAGE_MAX}.")
    start = 0
    if params.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(str(params["NextToken"])).decode().removeprefix("org-page:"))
        except ValueError:
            raise _ApiError("InvalidInputException", "The NextToken is invalid.") from None
    result: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        result["NextToken"] = base64.urlsafe_b64encode(f"org-page:{start + size}".encode()).decode()
    return result


# ---------------------------------------------------------------------- demo

DEMO_ACCOUNT = "111111111111"
DEMO_AGGREGATOR = "demo-org"


def start_demo(stack: contextlib.ExitStack, *, engine: bool = False) -> DemoCloud:
    """Start the fake with one account and a few public IPs in three regions (one in a Local Zone).

    `engine`: the account also runs an organization-wide AWS Config aggregator (``demo-org`` in us-east-1) and the
    config discovers through it (``mode: config_aggregator``) instead of calling EC2 per region.

    Addresses are in real AWS EC2 prefixes of the same region (the `ranges` feed agrees with the account). One more,
    198.51.100.41 (TEST-NET-2, in no feed), lives in a region that is not enabled (``ap-east-1`` not-opted-in): the
    agent must not see it, so it is an origin IP without an expected mapping.
    """
    fake = AwsFake().start()
    stack.callback(fake.stop)
    account = DEMO_ACCOUNT
    fake.add_account(account, name="demo")
    eni, alloc, instance = "eni-0demo00000000001", "eipalloc-0demo000000000001", "i-0demo000000000001"
    fake.add_address(
        account,
        "us-east-1",
        "52.4.12.34",
        allocation_id=alloc,
        network_interface_id=eni,
        private_ip="10.0.0.10",
        instance_id=instance,
    )
    fake.add_interface(
        account,
        "us-east-1",
        id=eni,
        instance_id=instance,
        public_ips=["52.4.12.34"],
        allocation_ids={"52.4.12.34": alloc},
        ipv6=["2600:1f19:8000::10"],
    )
    fake.add_interface(
        account,
        "eu-west-1",
        interface_type="nat_gateway",
        public_ips=["54.247.10.20"],
        description="Interface for NAT Gateway nat-0demo00000000001",
        requester_id="AIDAFAKENAT",
    )
    fake.add_address(account, "us-west-2", "15.253.30.40", network_border_group="us-west-2-lax-1")
    fake.accounts[account].regions["ap-east-1"].addresses.append(
        FakeAddress("198.51.100.41", "eipalloc-0demo0000000000040", "ap-east-1")
    )
    expected = {
        "52.4.12.34": "us-east-1",
        "2600:1f19:8000::10": "us-east-1",
        "54.247.10.20": "eu-west-1",
        "15.253.30.40": "us-west-2",
    }
    env = {
        **fake.credentials(account),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    config = {
        "endpoint_url": fake.url,
        "sts_endpoint_url": fake.url,
        "organizations_endpoint_url": fake.url,
        "max_attempts": 2,
        "connect_timeout": 2,
        "read_timeout": 10,
    }
    if engine:
        fake.create_organization(account)
        fake.add_aggregator(DEMO_AGGREGATOR, account, "us-east-1")
        config.update(mode="config_aggregator", aggregator_name=DEMO_AGGREGATOR, config_endpoint_url=fake.url)
    return DemoCloud(
        source="aws",
        config=config,
        env=env,
        origin_ips=[*expected, "198.51.100.41"],
        expected_regions=expected,
        fake=fake,
    )
