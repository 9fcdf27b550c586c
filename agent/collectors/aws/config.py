"""Config section `inventory.aws`. Imports no SDK: it is loaded for every run that validates a config.

Three ways to name the accounts to scan, combinable:

* nothing: the default credential chain's own account (env, profile, IRSA / EKS Pod Identity, instance role);
* `accounts`: a list of accounts, each reached through a named profile and/or a role ARN to assume;
* `organization`: every ACTIVE account of an AWS Organization (optionally only some OUs), reached by assuming
  `member_role_name` in each.

Regions are every enabled region of each account (``ec2:DescribeRegions``), or the `regions` patterns (fnmatch).

`mode` chooses how: ``accounts`` (the default) calls EC2 in every account x region as above; ``config_aggregator``
asks one AWS Config aggregator (advanced queries, in the delegated administrator account) for the whole
organization's Elastic IPs and network interfaces instead; `accounts` / `organization` are then unused.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from agent.schema import StrictModel

__all__ = [
    "DEFAULT_DURATION_SECONDS",
    "DEFAULT_SESSION_NAME",
    "PARTITION_HOME_REGIONS",
    "AwsAccount",
    "AwsConfig",
    "AwsOrganization",
    "account_id_of_role_arn",
    "partition_of_arn",
]

DEFAULT_SESSION_NAME = "origin-region-agent"
DEFAULT_DURATION_SECONDS = 3600  # botocore refreshes 15 min before expiry: 900 s would refresh before every call
PARTITION_HOME_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
"""Region used for STS, Organizations and DescribeRegions when none is configured, per partition."""

Partition = Literal["aws", "aws-cn", "aws-us-gov"]

_ROLE_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_REGION_PATTERN = re.compile(r"^[a-z0-9*?\[\]!-]{1,64}$")
_ROLE_NAME = re.compile(r"^[\w+=,.@/-]{1,512}$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_AGGREGATOR_NAME = re.compile(r"^[\w-]{1,256}$")
_OU_OR_ROOT = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")


def partition_of_arn(arn: str) -> str:
    """``arn:aws-cn:iam::1:role/x`` -> ``aws-cn``."""
    return arn.split(":", 2)[1]


def account_id_of_role_arn(arn: str) -> str:
    """``arn:aws:iam::123456789012:role/x`` -> ``123456789012``."""
    return arn.split(":")[4]


def _check_regions(values: list[str]) -> list[str]:
    for value in values:
        if not _REGION_PATTERN.match(value):
            raise ValueError(f"{value!r} is not a region name or fnmatch pattern (e.g. 'eu-west-1', 'eu-*')")
    return values


def _check_role_arn(value: str | None) -> str | None:
    if value is not None and not _ROLE_ARN.match(value):
        raise ValueError(f"{value!r} is not an IAM role ARN (arn:<aws|aws-cn|aws-us-gov>:iam::<12 digits>:role/<name>)")
    return value


def _check_session_name(value: str) -> str:
    if not _SESSION_NAME.match(value):
        raise ValueError(f"{value!r} is not a valid role session name (2-64 of [A-Za-z0-9_+=,.@-])")
    return value


class AwsAccount(StrictModel):
    """One account to scan: through a named profile, a role to assume, or both (the profile assumes the role)."""

    id: str | None = None
    """The 12-digit account id. Optional: taken from `role_arn`, else from ``sts:GetCallerIdentity``."""
    profile: str | None = None
    """Named profile (``~/.aws/config``) for this account, or for the source credentials of `role_arn`."""
    role_arn: str | None = None
    external_id: SecretStr | None = None
    session_name: str = DEFAULT_SESSION_NAME
    duration_seconds: int = Field(default=DEFAULT_DURATION_SECONDS, ge=900, le=43200)
    regions: list[str] | None = None
    """Region names or fnmatch patterns for this account; default: the top-level `regions`."""

    _v_regions = field_validator("regions")(lambda cls, v: v if v is None else _check_regions(v))
    _v_role = field_validator("role_arn")(lambda cls, v: _check_role_arn(v))
    _v_session = field_validator("session_name")(lambda cls, v: _check_session_name(v))

    @field_validator("id")
    @classmethod
    def _v_id(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT_ID.match(value):
            raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return value

    @model_validator(mode="after")
    def _v_consistent(self) -> AwsAccount:
        if self.id and self.role_arn and account_id_of_role_arn(self.role_arn) != self.id:
            raise ValueError(f"id {self.id!r} differs from the account of role_arn {self.role_arn!r}")
        return self

    @property
    def known_id(self) -> str | None:
        """The account id when it is known without an API call."""
        return self.id or (account_id_of_role_arn(self.role_arn) if self.role_arn else None)


class AwsOrganization(StrictModel):
    """Discover the accounts of an AWS Organization and assume `member_role_name` in each ACTIVE one.

    The caller (default chain / `profile`, or `admin_role_arn`) must be the management account or a delegated
    administrator. Its own account is scanned with the caller's credentials, without assuming the member role.
    """

    member_role_name: str
    """Role name (optionally with a path, ``path/Name``) assumed in every member account."""
    member_external_id: SecretStr | None = None
    member_session_name: str = DEFAULT_SESSION_NAME
    member_duration_seconds: int = Field(default=DEFAULT_DURATION_SECONDS, ge=900, le=43200)
    member_regions: list[str] | None = None
    admin_role_arn: str | None = None
    """Role to assume first (from the base credentials) to call Organizations; also the source of member roles."""
    admin_external_id: SecretStr | None = None
    organizational_units: list[str] = []
    """OU ids (``ou-…``) or root ids (``r-…``) to walk, with their sub-OUs; empty: every account (ListAccounts)."""
    skip_organizational_units: list[str] = []
    skip_member_accounts: list[str] = []

    _v_regions = field_validator("member_regions")(lambda cls, v: v if v is None else _check_regions(v))
    _v_role = field_validator("admin_role_arn")(lambda cls, v: _check_role_arn(v))
    _v_session = field_validator("member_session_name")(lambda cls, v: _check_session_name(v))

    @field_validator("member_role_name")
    @classmethod
    def _v_role_name(cls, value: str) -> str:
        if not _ROLE_NAME.match(value) or value.startswith("arn:"):
            raise ValueError(f"{value!r} is not an IAM role name (a name, not an ARN)")
        return value.strip("/")

    @field_validator("organizational_units", "skip_organizational_units")
    @classmethod
    def _v_ous(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _OU_OR_ROOT.match(value):
                raise ValueError(f"{value!r} is not an organizational unit id (ou-…) or root id (r-…)")
        return values

    @field_validator("skip_member_accounts")
    @classmethod
    def _v_skip_accounts(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _ACCOUNT_ID.match(value):
                raise ValueError(f"{value!r} is not a 12-digit AWS account id")
        return values


class AwsConfig(StrictModel):
    """Settings of the `aws` inventory source. Every endpoint can be overridden (tests, proxies, sovereign clouds).

    ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_EC2`` / ``AWS_ENDPOINT_URL_STS`` … are honoured natively by boto3;
    the `*_endpoint_url` keys here take precedence over them.
    """

    profile: str | None = None
    """Named profile for the base credentials; default: the standard credential chain."""
    region: str | None = None
    """Region for STS, Organizations and DescribeRegions; default: AWS_REGION / profile, else the partition's home."""
    partition: Partition | None = None
    """Default: the partition of the caller's identity (``sts:GetCallerIdentity``)."""
    accounts: list[AwsAccount] = []
    organization: AwsOrganization | None = None
    regions: list[str] = []
    """Region names or fnmatch patterns (``eu-*``). Empty: every region enabled in each account."""
    skip_regions: list[str] = []
    endpoint_url: str | None = None
    """EC2 endpoint for every region (a proxy or a local fake)."""
    sts_endpoint_url: str | None = None
    organizations_endpoint_url: str | None = None
    ca_bundle: str | None = None
    """PEM bundle to verify the endpoints with (also ``AWS_CA_BUNDLE``)."""
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Total attempts per API call, first one included (botocore ``retries.total_max_attempts``)."""
    connect_timeout: float = Field(default=5.0, gt=0, le=300)
    read_timeout: float = Field(default=30.0, gt=0, le=900)
    page_size: int = Field(default=1000, ge=5, le=1000)
    """``MaxResults`` of DescribeNetworkInterfaces."""
    include_ipv6: bool = True
    mode: Literal["accounts", "config_aggregator"] = "accounts"
    """``accounts``: EC2 calls per account x region. ``config_aggregator``: AWS Config advanced queries."""
    aggregator_name: str | None = Field(default=None, validate_default=True)
    """Name of the AWS Config aggregator (required with ``mode: config_aggregator``)."""
    aggregator_region: str | None = None
    """Region the aggregator lives in; default: `region`, else AWS_REGION / profile, else the partition's home."""
    aggregator_role_arn: str | None = None
    """Role to assume (from the base credentials) to query the aggregator; default: the base credentials."""
    aggregator_external_id: SecretStr | None = None
    aggregator_queries: int = Field(default=4, ge=1, le=16)
    """Queries run in parallel, each over a share of the regions (pages hold at most 100 rows)."""
    config_endpoint_url: str | None = None
    """AWS Config endpoint (a proxy or a local fake)."""

    _v_regions = field_validator("regions", "skip_regions")(lambda cls, v: _check_regions(v))
    _v_aggregator_role = field_validator("aggregator_role_arn")(lambda cls, v: _check_role_arn(v))

    @field_validator("aggregator_name")
    @classmethod
    def _v_aggregator_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A field validator (not a model one) so that the message names the field, never the whole section.
        if value is None and info.data.get("mode") == "config_aggregator":
            raise ValueError("mode 'config_aggregator' needs the name of the aggregator")
        if value is not None and not _AGGREGATOR_NAME.match(value):
            raise ValueError(f"{value!r} is not an AWS Config aggregator name (1-256 of [A-Za-z0-9_-])")
        return value

    @field_validator("endpoint_url", "sts_endpoint_url", "organizations_endpoint_url", "config_endpoint_url")
    @classmethod
    def _v_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value

    @field_validator("region", "aggregator_region")
    @classmethod
    def _v_region(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", value):
            raise ValueError(f"{value!r} is not an AWS region name")
        return value
