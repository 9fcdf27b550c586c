"""The AWS Config side of the AWS fake: configuration aggregators and their advanced queries (JSON 1.1).

Served by `agent.sandbox.aws.AwsFake` for requests signed for service ``config`` (SigV4 checked there), with
``X-Amz-Target: StarlingDoveService.<Action>``:

* ``SelectAggregateResourceConfig``: a SQL subset evaluated over configuration items (CIs) built from the fake's
  own accounts, so that the per-account EC2 view and the aggregator's view come from one scenario. ``Limit`` /
  ``MaxResults`` 0-100 (``InvalidLimitException`` above; botocore does not check the maximum), default 25 rows per
  page, 500 for aggregate queries; ``Results`` are JSON *strings*; opaque ``NextToken`` tied to the expression
  (``InvalidNextTokenException`` otherwise).
* ``DescribeConfigurationAggregatorSourcesStatus``: per source (the organization per region, or account per region)
  ``SUCCEEDED`` / ``FAILED`` / ``OUTDATED``, ``UpdateStatus`` filter, ``Limit`` 0-100.

An aggregator belongs to one account and region (the delegated administrator's): another caller, or another region,
gets ``NoSuchConfigurationAggregatorException`` like AWS answers. It covers every ACTIVE account of the fake's
organization (or a fixed list of source accounts) in its source regions, where those regions are enabled. A FAILED
source keeps the CIs it last delivered (the aggregator's data is stale, not gone).

SQL subset (https://docs.aws.amazon.com/config/latest/developerguide/query-components.html): ``SELECT`` properties
or ``COUNT(*)`` ``[WHERE cond] [GROUP BY props] [ORDER BY prop [ASC|DESC], ...]``; conditions ``=``, ``IN``,
``LIKE 'abc%'`` (suffix wildcard, >= 3 literal characters), ``AND``, ``OR``, ``NOT``, parentheses. Array properties
match when any element matches, as in AWS. Selecting a property that neither resource type in play can be queried on
(per the published aws-config-resource-schema lists) is ``InvalidExpressionException``; so are the keywords AWS
refuses (``FROM``, ``AS``, ``DISTINCT``, ``JOIN``, ``NULL``…) and anything this fake does not evaluate (``BETWEEN``,
comparisons, other aggregates): refusing is safer than a wrong answer.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["QUERYABLE", "ConfigApiError", "FakeAggregator", "select", "sources_status"]

# Queryable properties (awslabs/aws-config-resource-schema, config/properties/resource-types/*.properties.json).
_COMMON = [
    "accountId",
    "arn",
    "availabilityZone",
    "awsRegion",
    "configurationItemCaptureTime",
    "configurationItemStatus",
    "configurationStateId",
    "relationships.resourceId",
    "relationships.resourceName",
    "relationships.resourceType",
    "resourceCreationTime",
    "resourceId",
    "resourceName",
    "resourceType",
    "tags.key",
    "tags.tag",
    "tags.value",
    "version",
]
QUERYABLE: dict[str, frozenset[str]] = {
    "AWS::EC2::EIP": frozenset(
        _COMMON
        + [
            f"configuration.{p}"
            for p in [
                "allocationId",
                "associationId",
                "domain",
                "instanceId",
                "networkInterfaceId",
                "networkInterfaceOwnerId",
                "privateIpAddress",
                "publicIp",
                "publicIpv4Pool",
            ]
        ]
    ),
    "AWS::EC2::NetworkInterface": frozenset(
        _COMMON
        + [
            f"configuration.{p}"
            for p in [
                "association.allocationId",
                "association.associationId",
                "association.carrierIp",
                "association.customerOwnedIp",
                "association.ipOwnerId",
                "association.publicDnsName",
                "association.publicIp",
                "attachment.attachTime",
                "attachment.attachmentId",
                "attachment.deleteOnTermination",
                "attachment.deviceIndex",
                "attachment.instanceId",
                "attachment.instanceOwnerId",
                "attachment.networkCardIndex",
                "attachment.status",
                "availabilityZone",
                "description",
                "groups.groupId",
                "groups.groupName",
                "interfaceType",
                "ipv6Addresses.ipv6Address",
                "macAddress",
                "networkInterfaceId",
                "outpostArn",
                "ownerId",
                "privateDnsName",
                "privateIpAddress",
                "privateIpAddresses.association.allocationId",
                "privateIpAddresses.association.associationId",
                "privateIpAddresses.association.carrierIp",
                "privateIpAddresses.association.customerOwnedIp",
                "privateIpAddresses.association.ipOwnerId",
                "privateIpAddresses.association.publicDnsName",
                "privateIpAddresses.association.publicIp",
                "privateIpAddresses.primary",
                "privateIpAddresses.privateDnsName",
                "privateIpAddresses.privateIpAddress",
                "requesterId",
                "requesterManaged",
                "sourceDestCheck",
                "status",
                "subnetId",
                "vpcId",
            ]
        ]
    ),
}
_STAR = [
    "accountId",
    "awsRegion",
    "arn",
    "availabilityZone",
    "configurationItemCaptureTime",
    "resourceCreationTime",
    "resourceId",
    "resourceName",
    "resourceType",
    "version",
]
_REFUSED = {"ALL", "AS", "DISTINCT", "FROM", "HAVING", "JOIN", "UNION", "NULL", "IS", "BETWEEN", "LIMIT"}
_PAGE_MAX, _DEFAULT_PAGE, _DEFAULT_AGGREGATE_PAGE = 100, 25, 500
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>COUNT\(\*\)|[(),=*])|(?P<word>[A-Za-z_][\w.:]*))"
)


class ConfigApiError(Exception):
    """An AWS Config error answer (JSON ``__type``), HTTP 400."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class FakeAggregator:
    """A configuration aggregator in `account` / `region` (the delegated administrator's)."""

    name: str
    account: str
    region: str
    source_accounts: list[str] | None = None  # None: the organization's ACTIVE accounts
    source_regions: list[str] | None = None  # None: all regions
    capture_time: float | None = None  # CI capture time (epoch s); None: the fake's clock at query time
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)  # source region -> (error code, message)
    outdated: set[str] = field(default_factory=set)  # source regions whose last update is OUTDATED


# ---------------------------------------------------------------------- SQL


@dataclass(frozen=True)
class _Query:
    fields: tuple[str, ...]  # selected property paths ("COUNT(*)" for the aggregate)
    where: Callable[[dict[str, Any]], bool]
    group_by: tuple[str, ...]
    order_by: tuple[tuple[str, bool], ...]  # (path, descending)
    types: frozenset[str]  # resource types the WHERE clause pins (empty: any)

    @property
    def aggregate(self) -> bool:
        return "COUNT(*)" in self.fields


def _invalid(message: str) -> ConfigApiError:
    return ConfigApiError("InvalidExpressionException", message)


def _tokens(expression: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expression):
        if expression[pos:].strip() == "":
            break
        m = _TOKEN.match(expression, pos)
        if m is None or m.end() == pos:
            raise _invalid(f"Unexpected character at position {pos} of the expression.")
        kind = m.lastgroup or ""
        value = m[kind]
        if kind == "word" and value.upper() in _REFUSED:
            raise _invalid(f"The keyword {value.upper()} is not supported.")
        out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.pos = 0
        self.types: set[str] = set()

    def peek(self, word: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        return word is None or self.tokens[self.pos][1].upper() == word

    def take(self, word: str | None = None) -> tuple[str, str]:
        if not self.peek(word):
            found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "the end"
            raise _invalid(f"Expected {word or 'a term'} but found {found}.")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def path(self) -> str:
        kind, value = self.take()
        if kind != "word" or value.upper() in {"SELECT", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "GROUP", "ORDER"}:
            raise _invalid(f"Expected a property name but found {value}.")
        return value

    def literal(self) -> str:
        kind, value = self.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return value
        raise _invalid(f"Expected a literal but found {value}.")

    def parse(self) -> _Query:
        self.take("SELECT")
        fields: list[str] = []
        while True:
            kind, value = self.take()
            if kind == "op" and value == "COUNT(*)":
                fields.append(value)
            elif kind == "op" and value == "*":
                fields.extend(_STAR)
            elif kind == "word" and value.upper() in {"AVG", "SUM", "MIN", "MAX", "COUNT"}:
                raise _invalid(f"This fake evaluates COUNT(*) only, not {value}.")
            elif kind == "word":
                fields.append(value)
            else:
                raise _invalid(f"Unexpected {value} in the SELECT list.")
            if not self.peek(","):
                break
            self.take(",")
        where: Callable[[dict[str, Any]], bool] = lambda item: True  # noqa: E731
        if self.peek("WHERE"):
            self.take("WHERE")
            where = self.disjunction()
        group_by: list[str] = []
        if self.peek("GROUP"):
            self.take("GROUP")
            self.take("BY")
            group_by.append(self.path())
            while self.peek(","):
                self.take(",")
                group_by.append(self.path())
            if len(group_by) > 3:
                raise _invalid("GROUP BY takes at most 3 properties.")
        order_by: list[tuple[str, bool]] = []
        if self.peek("ORDER"):
            self.take("ORDER")
            self.take("BY")
            while True:
                prop = self.path()
                descending = False
                if self.peek("ASC") or self.peek("DESC"):
                    descending = self.take()[1].upper() == "DESC"
                order_by.append((prop, descending))
                if not self.peek(","):
                    break
                self.take(",")
        if self.pos != len(self.tokens):
            raise _invalid(f"Unexpected {self.tokens[self.pos][1]} after the query.")
        query = _Query(tuple(fields), where, tuple(group_by), tuple(order_by), frozenset(self.types))
        _check_properties(query)
        return query

    def disjunction(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self.conjunction()]
        while self.peek("OR"):
            self.take("OR")
            terms.append(self.conjunction())
        if len(terms) == 1:
            return terms[0]
        return lambda item: any(t(item) for t in terms)

    def conjunction(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self.negation()]
        while self.peek("AND"):
            self.take("AND")
            terms.append(self.negation())
        if len(terms) == 1:
            return terms[0]
        return lambda item: all(t(item) for t in terms)

    def negation(self) -> Callable[[dict[str, Any]], bool]:
        if self.peek("NOT"):
            self.take("NOT")
            inner = self.negation()
            return lambda item: not inner(item)
        if self.peek("("):
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Callable[[dict[str, Any]], bool]:
        prop = self.path()
        _known(prop)
        if self.peek("="):
            self.take("=")
            value = self.literal()
            if prop == "resourceType":
                self.types.add(value)
            return lambda item: any(_text(v) == value for v in _values(item, prop))
        if self.peek("IN"):
            self.take("IN")
            self.take("(")
            values = {self.literal()}
            while self.peek(","):
                self.take(",")
                values.add(self.literal())
            self.take(")")
            if prop == "resourceType":
                self.types.update(values)
            return lambda item: any(_text(v) in values for v in _values(item, prop))
        if self.peek("LIKE"):
            self.take("LIKE")
            pattern = self.literal()
            literal = pattern.rstrip("%")
            if "%" in literal or len(literal.replace("_", "")) < 3:
                raise _invalid("LIKE supports a suffix wildcard after at least 3 literal characters.")
            regex = re.compile(re.escape(literal).replace("_", ".") + (".*" if pattern.endswith("%") else ""))
            return lambda item: any(regex.fullmatch(_text(v)) for v in _values(item, prop))
        found = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "the end"
        raise _invalid(f"This fake evaluates =, IN and LIKE; found {found} after {prop}.")


def _known(prop: str) -> None:
    """A property some resource type can be queried on (or a parent of one)."""
    for props in QUERYABLE.values():
        if prop in props or any(p.startswith(prop + ".") for p in props):
            return
    raise _invalid(f"The property {prop} cannot be queried.")


def _check_properties(query: _Query) -> None:
    types = query.types or frozenset(QUERYABLE)
    unknown = types - set(QUERYABLE)
    if unknown:
        raise _invalid(f"This fake serves {', '.join(sorted(QUERYABLE))} only, not {', '.join(sorted(unknown))}.")
    props = set().union(*(QUERYABLE[t] for t in types))
    for name in (*query.fields, *query.group_by, *(p for p, _ in query.order_by)):
        if name != "COUNT(*)" and name not in props and not any(p.startswith(name + ".") for p in props):
            raise _invalid(f"The property {name} cannot be queried for {', '.join(sorted(types))}.")


def _values(item: Any, path: str) -> list[Any]:
    """Every value at `path`, walking into arrays (AWS evaluates array properties per element)."""
    current = [item]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in current:
            value_list = value if isinstance(value, list) else [value]
            for v in value_list:
                if isinstance(v, dict) and part in v:
                    child = v[part]
                    nxt.extend(child if isinstance(child, list) else [child])
        current = nxt
    return [v for v in current if v is not None]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _project(item: dict[str, Any], path: str) -> Any:
    """The nested sub-document of `item` holding only `path` (arrays keep their shape), or None when absent."""
    head, _, rest = path.partition(".")
    if not isinstance(item, dict) or head not in item or item[head] is None:
        return None
    value = item[head]
    if not rest:
        return value
    if isinstance(value, list):
        parts = [_project(v, rest) for v in value]
        return [p for p in parts if p is not None] or None
    return _project(value, rest)


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _row(item: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in fields:
        value = _project(item, name)
        if value is None:
            continue
        nested: dict[str, Any] = {}
        cursor = nested
        parts = name.split(".")
        for part in parts[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[parts[-1]] = value
        _merge(row, nested)
    return row


def _sort_key(row: dict[str, Any], prop: str) -> str:
    values = _values(row, prop)
    return _text(values[0]) if values else ""


def select(
    load: Callable[[], list[dict[str, Any]]], params: dict[str, Any], snapshots: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Answer one ``SelectAggregateResourceConfig`` page over the CIs `load` returns (in a stable order).

    A query's rows are computed on its first page and kept in `snapshots` under its ``NextToken`` (bounded), so that
    later pages read the same snapshot and cost the fake no re-evaluation.
    """
    expression = params.get("Expression")
    if not isinstance(expression, str) or not 1 <= len(expression) <= 4096:
        raise ConfigApiError("ValidationException", "Expression must be 1 to 4096 characters.")
    query = _Parser(expression).parse()
    limit = _limit(params, _DEFAULT_AGGREGATE_PAGE if query.aggregate else _DEFAULT_PAGE)
    digest = hashlib.sha256(expression.encode()).hexdigest()[:16]
    start = _start(params, digest)
    if start:
        rows = snapshots.get(str(params["NextToken"]))
        if rows is None:
            raise ConfigApiError("InvalidNextTokenException", "The nextToken provided is invalid.")
    else:
        rows = _rows(query, load())
    page = rows[start : start + limit]
    result: dict[str, Any] = {
        "Results": [json.dumps(r, separators=(",", ":")) for r in page],
        "QueryInfo": {"SelectFields": [{"Name": f} for f in query.fields]},
    }
    if start + limit < len(rows):
        token = base64.urlsafe_b64encode(f"{digest}:{start + limit}:{uuid.uuid4().hex}".encode()).decode()
        result["NextToken"] = token
        snapshots[token] = rows
        while len(snapshots) > 256:
            snapshots.pop(next(iter(snapshots)))
    return result


def _rows(query: _Query, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    matched = [item for item in items if query.where(item)]
    if query.aggregate:
        groups: dict[tuple[str, ...], dict[str, Any]] = {}
        counts: dict[tuple[str, ...], int] = {}
        plain = [f for f in query.fields if f != "COUNT(*)"]
        if set(plain) - set(query.group_by):
            raise _invalid("Every selected property of an aggregate query must be in GROUP BY.")
        for item in matched:
            key = tuple(_sort_key(item, p) for p in query.group_by)
            groups.setdefault(key, _row(item, plain))
            counts[key] = counts.get(key, 0) + 1
        rows = [{**groups[k], "COUNT(*)": counts[k]} for k in sorted(groups)]
    else:
        rows = [_row(item, query.fields) for item in matched]
    for prop, descending in reversed(query.order_by):  # stable sorts, last key first
        rows.sort(key=functools.partial(_sort_key, prop=prop), reverse=descending)
    return rows


def _limit(params: dict[str, Any], default: int) -> int:
    limit = params.get("Limit", params.get("MaxResults"))
    if limit is None or limit == 0:
        return default
    if not isinstance(limit, int) or not 0 <= limit <= _PAGE_MAX:
        raise ConfigApiError("InvalidLimitException", f"Value '{limit}' at 'limit' must be between 0 and {_PAGE_MAX}.")
    return limit


def _start(params: dict[str, Any], digest: str) -> int:
    token = params.get("NextToken")
    if not token:
        return 0
    try:
        owner, offset, *_ = base64.urlsafe_b64decode(str(token)).decode().split(":")
        if owner != digest:
            raise ValueError(token)
        return int(offset)
    except ValueError:
        raise ConfigApiError("InvalidNextTokenException", "The nextToken provided is invalid.") from None


# ---------------------------------------------------------------------- sources status


def sources_status(
    aggregator: FakeAggregator, accounts: list[str], regions: list[str], params: dict[str, Any], org_id: str
) -> dict[str, Any]:
    """Answer ``DescribeConfigurationAggregatorSourcesStatus``: one row per source and region."""
    wanted = params.get("UpdateStatus")
    if wanted is not None and (not wanted or set(wanted) - {"SUCCEEDED", "FAILED", "OUTDATED"}):
        raise ConfigApiError("InvalidParameterValueException", f"Invalid UpdateStatus {wanted!r}.")
    now = aggregator.capture_time or 0.0
    sources = [("ORGANIZATION", org_id)] if aggregator.source_accounts is None else [("ACCOUNT", a) for a in accounts]
    rows = []
    for source_type, source_id in sources:
        for region in regions:
            status = "SUCCEEDED"
            row: dict[str, Any] = {"SourceId": source_id, "SourceType": source_type, "AwsRegion": region}
            if region in aggregator.failed:
                status = "FAILED"
                row["LastErrorCode"], row["LastErrorMessage"] = aggregator.failed[region]
            elif region in aggregator.outdated:
                status = "OUTDATED"
            if wanted is None or status in wanted:
                rows.append({**row, "LastUpdateStatus": status, "LastUpdateTime": now})
    limit = _limit(params, _PAGE_MAX)
    digest = hashlib.sha256(f"status:{aggregator.name}".encode()).hexdigest()[:16]
    start = _start(params, digest)
    result: dict[str, Any] = {"AggregatedSourceStatusList": rows[start : start + limit]}
    if start + limit < len(rows):
        result["NextToken"] = base64.urlsafe_b64encode(f"{digest}:{start + limit}".encode()).decode()
    return result


def capture_text(epoch: float) -> str:
    """``configurationItemCaptureTime`` as advanced queries print it: ISO 8601 with milliseconds, UTC."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"
