"""Resolving CNAME targets and hostname origins to IPs with dnspython (A and AAAA)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["DnsResolver", "ResolveError", "Resolver"]


class ResolveError(Exception):
    """A name could not be resolved (NXDOMAIN, no answer, timeout)."""


class Resolver(Protocol):
    """Turns a host name into its IP addresses (text, any form: callers canonicalise)."""

    def resolve(self, hostname: str) -> list[str]: ...


class DnsResolver:
    """dnspython-backed resolver. `nameservers`/`port` point it at a specific server (tests use a loopback one)."""

    def __init__(self, nameservers: Sequence[str] = (), *, port: int = 53, timeout: float = 3.0) -> None:
        import dns.resolver  # deferred: only runs that resolve names pay for it

        self._resolver = dns.resolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = list(nameservers)
            self._resolver.port = port
        self._resolver.lifetime = timeout

    def resolve(self, hostname: str) -> list[str]:
        import dns.exception
        import dns.resolver

        addresses: list[str] = []
        failures: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = self._resolver.resolve(hostname, rdtype)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN) as exc:
                failures.append(f"{rdtype}: {exc.__class__.__name__}")
                continue
            except dns.exception.DNSException as exc:
                raise ResolveError(f"{hostname}: {rdtype} lookup failed: {exc.__class__.__name__}") from exc
            addresses.extend(r.to_text() for r in answer)
        if not addresses:
            raise ResolveError(f"{hostname}: no A or AAAA records ({', '.join(failures)})")
        return addresses
