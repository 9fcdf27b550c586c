"""Config section `inventory.azure`. Imports no SDK: it is loaded for every run that validates a config."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from agent.errors import ConfigError
from agent.schema import StrictModel

__all__ = ["CLOUDS", "AzureCloud", "AzureConfig", "CredentialName"]

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

_MANAGEMENT_GROUP = re.compile(r"^[A-Za-z0-9_().-]{1,90}$")

AzureCloud = Literal["public", "china", "usgov"]

CLOUDS: dict[str, tuple[str, str]] = {
    # cloud -> (ARM endpoint, Entra ID authority host); see azure.identity.AzureAuthorityHosts and `az cloud show`
    "public": ("https://management.azure.com", "https://login.microsoftonline.com"),
    "china": ("https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
    "usgov": ("https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
}

CredentialName = Literal[
    "environment",
    "workload_identity",
    "managed_identity",
    "cli",
    "developer_cli",
    "powershell",
    "visual_studio_code",
    "shared_token_cache",
    "broker",
]
"""Members of DefaultAzureCredential's chain that `exclude_credentials` may switch off."""


class AzureConfig(StrictModel):
    """Settings of the `azure` inventory source.

    With no `subscriptions`, every subscription the credential can see (in a state listed in `subscription_states`)
    is scanned, minus `exclude_subscriptions`. Endpoints default to the chosen `cloud` and can each be overridden
    (sovereign clouds, proxies, the sandbox fake).
    """

    subscriptions: tuple[str, ...] = ()
    """Subscription ids to scan. Empty: discover them with ``subscriptions.list``."""
    exclude_subscriptions: tuple[str, ...] = ()
    """Subscription ids or display names never to scan."""
    subscription_states: tuple[Literal["Enabled", "Warned", "PastDue", "Disabled"], ...] = (
        "Enabled",
        "Warned",
        "PastDue",
    )
    """Discovered subscriptions in these states are scanned. Warned and PastDue ones still run their resources."""

    mode: Literal["subscriptions", "resource_graph"] = "subscriptions"
    """``subscriptions``: ARM calls per subscription. ``resource_graph``: Azure Resource Graph queries."""
    management_groups: tuple[str, ...] = ()
    """``resource_graph`` mode: query these management groups (one query each); takes precedence over
    `subscriptions`. Empty, with no `subscriptions`: every subscription the credential can read (tenant scope)."""
    resource_graph_page_size: int = Field(default=1000, ge=1, le=1000)
    """``$top`` of each Resource Graph page (the service allows 1-1000)."""
    resource_graph_lag_seconds: float = Field(default=300.0, ge=0, le=86_400)
    """How far behind ARM Resource Graph's data is assumed to be. Rows carry no observation time, so each record's
    `observed_at` is the query time minus this: a mapping modified more recently is never corrected or deleted on
    the strength of Resource Graph data."""

    auth: Literal["default", "service_principal"] = "default"
    """``default``: DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI…).
    ``service_principal``: `tenant_id` + `client_id` + a client secret read from `client_secret_env` or
    `client_secret_file`."""
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_env: str = "AZURE_CLIENT_SECRET"
    client_secret_file: Path | None = None
    managed_identity_client_id: str | None = None
    """Client id of a user-assigned managed identity (``auth: default``)."""
    exclude_credentials: tuple[CredentialName, ...] = ()
    """Members of the DefaultAzureCredential chain to skip (e.g. ``cli`` in production)."""

    cloud: AzureCloud = "public"
    arm_endpoint: str | None = None
    """Azure Resource Manager base URL; default from `cloud`."""
    credential_scope: str | None = None
    """Token scope for ARM; default ``<arm_endpoint>/.default``."""
    authority_host: str | None = None
    """Microsoft Entra ID authority; default from `cloud`."""
    disable_instance_discovery: bool = False
    """Skip MSAL's authority validation (needed for private authorities such as Azure Stack or the sandbox)."""
    ca_bundle: Path | None = None
    """PEM file of extra trusted CAs (TLS-intercepting proxies, the sandbox). Default: the system/certifi store."""

    retry_total: int = Field(default=4, ge=0, le=20)
    retry_backoff_factor: float = Field(default=0.8, ge=0)
    retry_backoff_max: float = Field(default=60.0, gt=0)
    """Retries of 408/429/5xx and connection errors per request; a 429's Retry-After is honoured."""
    connection_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)

    @field_validator("subscriptions")
    @classmethod
    def _subscription_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for item in value:
            if not _GUID.match(item):
                raise ValueError(f"subscriptions: {item!r} is not a subscription id (a GUID)")
            if item.lower() not in out:
                out.append(item.lower())
        return tuple(out)

    @field_validator("management_groups")
    @classmethod
    def _management_group_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out: list[str] = []
        for item in value:
            # Management group ids: up to 90 letters, digits, '-', '_', '(', ')', '.'; not ending in '.'.
            if not _MANAGEMENT_GROUP.match(item) or item.endswith("."):
                raise ValueError(f"management_groups: {item!r} is not a management group id")
            if item not in out:
                out.append(item)
        return tuple(out)

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        # A GUID or a verified domain (contoso.onmicrosoft.com); no slashes, they would change the authority URL.
        if value is not None and (not value or "/" in value or value != value.strip()):
            raise ValueError(f"tenant_id: {value!r} is not a tenant id or domain")
        return value

    @field_validator("arm_endpoint", "authority_host")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https://[^/\s]+(/\S*)?$", value):
            raise ValueError(f"{value!r} must be an https:// URL (Azure sends bearer tokens over TLS only)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _service_principal(self) -> AzureConfig:
        if self.auth == "service_principal":
            missing = [name for name in ("tenant_id", "client_id") if not getattr(self, name)]
            if missing:
                raise ValueError(f"auth 'service_principal' needs {' and '.join(missing)}")
        return self

    @property
    def resolved_arm_endpoint(self) -> str:
        return self.arm_endpoint or CLOUDS[self.cloud][0]

    @property
    def resolved_credential_scope(self) -> str:
        return self.credential_scope or f"{self.resolved_arm_endpoint}/.default"

    @property
    def resolved_authority_host(self) -> str:
        return self.authority_host or CLOUDS[self.cloud][1]

    def client_secret(self, environ: Mapping[str, str]) -> SecretStr:
        """The service principal's secret, from `client_secret_file` or else the `client_secret_env` variable.

        Raises `ConfigError` naming the source (never the value) when it is missing or empty.
        """
        if self.client_secret_file is not None:
            try:
                text = self.client_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"inventory.azure.client_secret_file: cannot read {str(self.client_secret_file)!r}: {exc.strerror}"
                ) from None
            if not text:
                raise ConfigError(f"inventory.azure.client_secret_file: {str(self.client_secret_file)!r} is empty")
            from agent.secrets import register

            register(text)
            return SecretStr(text)
        value = environ.get(self.client_secret_env, "")
        if not value:
            raise ConfigError(
                f"inventory.azure.client_secret_env: environment variable {self.client_secret_env!r} is not set "
                "(auth 'service_principal' needs a client secret)"
            )
        return SecretStr(value)
