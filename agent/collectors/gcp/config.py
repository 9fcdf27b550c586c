"""Config section `inventory.gcp`. Imports no SDK: it is loaded for every run that validates a config.

Which projects are scanned:

* ``projects``: explicit project ids (each one becomes a leaf scope right away, no Resource Manager call);
* ``folders`` / ``organizations``: every ACTIVE project under them, folders walked recursively;
* none of the three: every ACTIVE project the credential can see (``projects.search``).

``exclude_projects`` (fnmatch patterns on the project id) applies to all of them.

``mode`` chooses how: ``projects`` (the default) calls Compute Engine in every project as above; ``asset_inventory``
asks Cloud Asset Inventory (``ListAssets`` with resource content) once for the whole ``scope``
(``organizations/N``, ``folders/N`` or ``projects/P``): no per-project call, no project walk.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from agent.schema import StrictModel

__all__ = [
    "DEFAULT_ASSET_ENDPOINT",
    "DEFAULT_COMPUTE_ENDPOINT",
    "DEFAULT_RESOURCE_MANAGER_ENDPOINT",
    "GcpConfig",
    "GcpRetryConfig",
]

DEFAULT_COMPUTE_ENDPOINT = "https://compute.googleapis.com"
DEFAULT_RESOURCE_MANAGER_ENDPOINT = "https://cloudresourcemanager.googleapis.com"
DEFAULT_IAM_CREDENTIALS_ENDPOINT = "https://iamcredentials.googleapis.com"
DEFAULT_ASSET_ENDPOINT = "https://cloudasset.googleapis.com"

# Project ids: 6-30 chars, lower-case letters, digits and hyphens, starting with a letter; legacy domain-scoped ids
# ("example.com:my-project") are still around in old organizations.
_PROJECT_ID = re.compile(r"^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_NUMERIC = re.compile(r"^[0-9]{1,20}$")
_SERVICE_ACCOUNT = re.compile(r"^[^@\s]+@[^@\s]+$")


def _resource_names(values: tuple[str, ...], kind: str) -> tuple[str, ...]:
    """Accept ``123`` or ``<kind>/123`` and return ``<kind>/123``; anything else names the bad value."""
    out: list[str] = []
    for value in values:
        number = value.removeprefix(f"{kind}/")
        if not _NUMERIC.match(number):
            raise ValueError(f"{value!r} is not a {kind[:-1]} id: expected digits or '{kind}/<digits>'")
        out.append(f"{kind}/{number}")
    return tuple(dict.fromkeys(out))


def _endpoint(value: str | None) -> str | None:
    """An endpoint is scheme://host[:port] with nothing after it: the SDKs append their own paths."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"{value!r} is not an endpoint: write it as https://host[:port] (scheme included)")
    return f"{parts.scheme}://{parts.netloc}"


class GcpRetryConfig(StrictModel):
    """Retries of transient API errors (429, 5xx, rate-limit 403s, connection errors), per request/page.

    Exponential backoff with jitter: attempt n waits ``min(max_backoff, initial_backoff * 2**(n-1))`` times a random
    factor in [0.5, 1]. ``max_attempts: 1`` disables retries (tests).
    """

    max_attempts: int = Field(default=5, ge=1, le=20)
    initial_backoff_seconds: float = Field(default=1.0, ge=0, le=60)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=600)


class GcpConfig(StrictModel):
    """Settings of the `gcp` inventory source.

    Credentials: Application Default Credentials (GKE Workload Identity / the metadata server,
    ``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default login``) unless ``credentials_file`` names a
    key file (service account, external account …). ``impersonate_service_account`` then mints short-lived tokens of
    that service account (the base credential needs ``roles/iam.serviceAccountTokenCreator`` on it).
    """

    projects: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    exclude_projects: tuple[str, ...] = ()  # fnmatch patterns on the project id, e.g. "sys-*"

    credentials_file: str | None = None
    impersonate_service_account: str | None = None
    impersonation_delegates: tuple[str, ...] = ()
    quota_project: str | None = None  # billed for API quota (needed with user credentials)

    compute_endpoint: str | None = None  # default https://compute.googleapis.com
    resource_manager_endpoint: str | None = None  # default https://cloudresourcemanager.googleapis.com
    iam_credentials_endpoint: str | None = None  # default https://iamcredentials.googleapis.com (impersonation)

    page_size: int = Field(default=500, ge=1, le=500)  # maxResults / pageSize per list call

    mode: Literal["projects", "asset_inventory"] = "projects"
    # asset_inventory (required there): organizations/N, folders/N or projects/P
    scope: str | None = Field(default=None, validate_default=True)
    asset_endpoint: str | None = None  # default https://cloudasset.googleapis.com
    asset_page_size: int = Field(default=1000, ge=1, le=1000)  # ListAssets pageSize (the API's maximum is 1000)
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)  # per HTTP request
    retry: GcpRetryConfig = GcpRetryConfig()

    @field_validator("projects")
    @classmethod
    def _project_ids(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not _PROJECT_ID.match(value):
                raise ValueError(f"{value!r} is not a project id (6-30 chars: a-z, 0-9, '-', starting with a letter)")
        return tuple(dict.fromkeys(values))

    @field_validator("folders")
    @classmethod
    def _folder_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _resource_names(values, "folders")

    @field_validator("organizations")
    @classmethod
    def _organization_names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _resource_names(values, "organizations")

    @field_validator("exclude_projects")
    @classmethod
    def _patterns(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not value.strip():
                raise ValueError("exclude_projects contains an empty pattern")
        return values

    @field_validator("impersonate_service_account")
    @classmethod
    def _service_account(cls, value: str | None) -> str | None:
        if value is not None and not _SERVICE_ACCOUNT.match(value):
            raise ValueError(f"{value!r} is not a service account email")
        return value

    @field_validator("impersonation_delegates")
    @classmethod
    def _delegates(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not _SERVICE_ACCOUNT.match(value):
                raise ValueError(f"{value!r} is not a service account email")
        return values

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("mode") == "asset_inventory":
                raise ValueError("mode 'asset_inventory' needs a scope: organizations/N, folders/N or projects/P")
            return None
        kind, sep, name = value.partition("/")
        if kind in ("organizations", "folders") and sep and _NUMERIC.match(name):
            return value
        if kind == "projects" and sep and (_PROJECT_ID.match(name) or _NUMERIC.match(name)):
            return value
        raise ValueError(
            f"{value!r} is not an asset scope: write organizations/<digits>, folders/<digits> or projects/<id>"
        )

    @field_validator("compute_endpoint", "resource_manager_endpoint", "iam_credentials_endpoint", "asset_endpoint")
    @classmethod
    def _endpoints(cls, value: str | None) -> str | None:
        return _endpoint(value)
