"""Azure Service Tags through the ARM discovery API, for when no weekly download URL is at hand.

``GET {arm}/subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/serviceTags?api-version=…`` answers
the same ``values[]`` shape as the download file (plus ``nextLink`` pages in recent API versions), so
`agent.feeds.parse.parse_azure` reads both. The token comes from azure-identity, imported only when this source is
used (the azure extra): `DefaultAzureCredential` covers environment, workload identity, managed identity and the CLI.
Any Reader on the subscription may call it (action ``Microsoft.Network/locations/serviceTags/read``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from agent.feeds.config import AzureDiscoveryConfig
from agent.feeds.errors import FeedError
from agent.feeds.fetch import Download, Downloader, NotModified

__all__ = ["default_credential", "discovery_downloader", "discovery_url"]

MAX_PAGES = 100


def discovery_url(settings: AzureDiscoveryConfig) -> str:
    """The first page's URL."""
    return (
        f"{settings.arm_endpoint}/subscriptions/{settings.subscription_id}/providers/Microsoft.Network/locations/"
        f"{settings.location}/serviceTags?api-version={settings.api_version}"
    )


def default_credential(settings: AzureDiscoveryConfig) -> Any:
    """azure-identity's `DefaultAzureCredential`, imported here so that nothing else pays for it."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise FeedError(
            "azure feed: the Service Tag discovery API needs azure-identity (pip install 'origin-region-agent[azure]')",
            vendor="azure",
            code="not-installed",
        ) from exc
    return DefaultAzureCredential(disable_instance_discovery=settings.disable_instance_discovery)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http-{response.status_code}"


def discovery_downloader(settings: AzureDiscoveryConfig, client: httpx.Client, credential: Any = None) -> Downloader:
    """A `Downloader` for `FeedFetcher.fetch` that authenticates, follows ``nextLink`` and merges the pages.

    `credential` is any azure-core ``TokenCredential``; default `default_credential(settings)`, built on first use.
    ARM sends no validators for this resource, so the answer is never a 304: the cache's `max_age` limits the calls.
    """
    holder: dict[str, Any] = {"credential": credential}

    def token() -> str:
        if holder["credential"] is None:
            holder["credential"] = default_credential(settings)
        try:
            return str(holder["credential"].get_token(f"{settings.arm_endpoint}/.default").token)
        except Exception as exc:  # azure-identity raises ClientAuthenticationError / CredentialUnavailableError
            raise FeedError(
                f"azure feed: no Azure token for the Service Tag discovery API ({type(exc).__name__})",
                vendor="azure",
                code="auth",
            ) from exc

    def download(conditional: Mapping[str, str]) -> Download | NotModified:
        headers = {"Authorization": f"Bearer {token()}", "Accept": "application/json"}
        url: str | None = discovery_url(settings)
        merged: dict[str, Any] | None = None
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = client.get(url, headers=headers)
            if response.status_code != 200:
                code = _error_code(response)
                raise FeedError(
                    f"azure feed: the Service Tag discovery API answered HTTP {response.status_code} ({code}) for "
                    f"subscription {settings.subscription_id!r}",
                    vendor="azure",
                    code=code,
                )
            page = response.json()
            if merged is None:
                merged = {key: value for key, value in page.items() if key != "nextLink"}
                merged["values"] = list(page.get("values") or [])
            else:
                merged["values"].extend(page.get("values") or [])
            url = page.get("nextLink") or None
        if url is not None:
            raise FeedError(f"azure feed: more than {MAX_PAGES} pages of service tags", vendor="azure", code="paging")
        return Download(json.dumps(merged).encode())

    return download
