"""Config section `inventory.oci`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from agent.schema import StrictModel

__all__ = ["OciAuth", "OciCircuitBreakerConfig", "OciConfig", "OciRetryConfig"]

OciAuth = Literal["config_file", "instance_principal", "resource_principal", "oke_workload_identity"]
"""How the collector signs requests. ``config_file`` reads an ``~/.oci/config`` profile (API key, or a session token
from ``oci session authenticate``); the three others are the SDK's principal signers for compute instances, OCI
Functions (and other resource principals) and OKE workload identity."""

_AUTH_ONLY_KEYS = {
    "config_file": "config_file",
    "federation_endpoint": "instance_principal",
    "oke_service_account_token_path": "oke_workload_identity",
    "oke_proxymux_port": "oke_workload_identity",
}
"""Keys that only one auth mode reads: setting one with another mode is a contradiction, refused at validation."""

_REGION = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+-[0-9]+$")  # us-ashburn-1, us-gov-ashburn-1, ap-dcc-canberra-1
_OCID = re.compile(r"^ocid1\.[a-z0-9]+\.[a-z0-9-]+\.[a-z0-9-]*\.[A-Za-z0-9._-]+$")


def _check_region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an OCI region identifier such as 'us-ashburn-1'")
    return value


def _check_ocid(value: str, kind: str) -> str:
    if not _OCID.match(value) or value.split(".")[1] != kind:
        raise ValueError(f"{value!r} is not a {kind} OCID (ocid1.{kind}.<realm>..<unique id>)")
    return value


def _check_template(value: str | None) -> str | None:
    """An endpoint template must be an http(s) URL whose only placeholder is ``{region}``."""
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} must start with http:// or https://")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid template: {exc}") from None
    if names - {"region"}:
        raise ValueError(f"{value!r} may only use the placeholder {{region}}, not {sorted(names - {'region'})}")
    return value.rstrip("/")


class OciRetryConfig(StrictModel):
    """The SDK's own retry strategy (exponential backoff with jitter on 429, 409 conflicts, 5xx, timeouts).

    ``max_attempts: 1`` turns retries off (``oci.retry.NoneRetryStrategy``): tests use it so failing scopes fail fast.
    """

    max_attempts: int = Field(default=5, ge=1, le=20)
    total_elapsed_seconds: float = Field(default=120.0, gt=0)
    base_sleep_seconds: float = Field(default=1.0, ge=0)
    max_sleep_seconds: float = Field(default=30.0, ge=0)


class OciCircuitBreakerConfig(StrictModel):
    """The SDK's circuit breaker. Each scope gets its own breaker, so an open circuit never outlives its scope."""

    enabled: bool = True
    failure_threshold: int = Field(default=10, ge=1)
    recovery_timeout_seconds: int = Field(default=30, ge=1)


class OciConfig(StrictModel):
    """Settings of the `oci` inventory source.

    Scans every READY subscribed region x (root tenancy + every ACTIVE compartment of its subtree), unless narrowed by
    `regions` / `compartments` / `exclude_compartments`.
    """

    auth: OciAuth = "config_file"
    config_file: str = "~/.oci/config"
    """Path of the OCI CLI/SDK config file (``auth: config_file`` only)."""
    profile: str = "DEFAULT"
    """Profile of `config_file` to use (``auth: config_file`` only)."""
    tenancy: str | None = None
    """Tenancy OCID; default: the profile's ``tenancy`` or the principal's tenancy."""
    region: str | None = None
    """Region for the tenancy-wide Identity calls; default: the profile's or the principal's region."""
    regions: tuple[str, ...] = ()
    """Scan only these regions (default: every READY region subscription of the tenancy)."""
    compartments: tuple[str, ...] = ()
    """Scan only these compartment OCIDs (default: the root tenancy and every ACTIVE compartment under it)."""
    exclude_compartments: tuple[str, ...] = ()
    """Never scan these compartment OCIDs (their sub-compartments are still scanned)."""
    include_root: bool = True
    """Scan the root compartment (the tenancy itself) too."""
    ipv6: bool = True
    """Also list IPv6 addresses of subnets that allow public addresses (costs VCN and subnet listing calls)."""
    endpoint_template: str | None = None
    """Endpoint of every service, formatted per region: ``http://127.0.0.1:8080/{region}``, a proxy, another realm."""
    identity_endpoint_template: str | None = None
    """Identity endpoint (overrides `endpoint_template`), e.g. ``https://identity.{region}.oci.oraclecloud.com``."""
    network_endpoint_template: str | None = None
    """Core networking endpoint (overrides `endpoint_template`), e.g. ``https://iaas.{region}.oraclecloud.com``."""
    ca_bundle: str | None = None
    """PEM file of CAs to trust for HTTPS endpoints, the federation endpoint included (a TLS-inspecting proxy)."""
    federation_endpoint: str | None = None
    """Auth Service URL that exchanges the instance certificate for a token (``auth: instance_principal`` only);
    default: the SDK's ``https://auth.<region>.<realm domain>/v1/x509`` for the instance's region."""
    oke_service_account_token_path: str | None = None
    """The pod's service-account token file (``auth: oke_workload_identity`` only); default: the SDK's
    ``/var/run/secrets/kubernetes.io/serviceaccount/token``."""
    oke_proxymux_port: int | None = Field(default=None, ge=1, le=65535)
    """Port of the OKE proxymux on ``$KUBERNETES_SERVICE_HOST`` (``auth: oke_workload_identity`` only); default: the
    SDK's 12250."""
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    read_timeout_seconds: float = Field(default=60.0, gt=0)
    page_size: int | None = Field(default=None, ge=1, le=1000)
    """``limit`` sent with list calls; default: the service's own page size."""
    retry: OciRetryConfig = OciRetryConfig()
    circuit_breaker: OciCircuitBreakerConfig = OciCircuitBreakerConfig()

    @field_validator("tenancy")
    @classmethod
    def _tenancy(cls, value: str | None) -> str | None:
        return None if value is None else _check_ocid(value, "tenancy")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return None if value is None else _check_region(value)

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_check_region(v) for v in value))

    @field_validator("compartments", "exclude_compartments")
    @classmethod
    def _compartments(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ocid in value:
            if not (ocid.startswith("ocid1.compartment.") or ocid.startswith("ocid1.tenancy.")) or not _OCID.match(
                ocid
            ):
                raise ValueError(f"{ocid!r} is not a compartment or tenancy OCID")
        return tuple(dict.fromkeys(value))

    @field_validator("endpoint_template", "identity_endpoint_template", "network_endpoint_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return _check_template(value)

    @field_validator("federation_endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value

    @field_validator("oke_service_account_token_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("profile", "config_file")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _keys_of_the_auth_mode(self) -> OciConfig:
        for key, mode in _AUTH_ONLY_KEYS.items():
            if self.auth != mode and key in self.model_fields_set:
                raise ValueError(f"{key} is only used with auth: {mode}, not auth: {self.auth}")
        return self

    def identity_endpoint(self, region: str) -> str | None:
        """The Identity endpoint for `region`, or None to let the SDK pick the realm's public one."""
        template = self.identity_endpoint_template or self.endpoint_template
        return template.format(region=region) if template else None

    def network_endpoint(self, region: str) -> str | None:
        """The core networking (VirtualNetwork) endpoint for `region`, or None for the SDK's default."""
        template = self.network_endpoint_template or self.endpoint_template
        return template.format(region=region) if template else None
