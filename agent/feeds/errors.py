"""Errors of the feeds package: one class, a `CollectorError`, so a broken feed fails only its own scope."""

from __future__ import annotations

from agent.errors import CollectorError

__all__ = ["FeedError"]


class FeedError(CollectorError):
    """A feed could not be fetched, read or parsed, and no usable cached copy exists.

    `vendor` names the feed (``aws``, ``gcp``, ``azure``, ``oci``); `code` is a short machine-readable reason
    (``fetch-failed``, ``bad-format``, ``not-configured``, ``no-cache``, ``http-<status>``).
    """
