"""The one canonical form of an IP address, used by every stage and by the sandbox fakes.

Rules (Cloudflare stores origin IPs "normalized to canonical form (RFC 5952 for IPv6)"):

* IPv4 must be a plain dotted quad: no leading zeros (``010.0.0.1`` is ambiguous: octal or decimal?), no CIDR suffix,
  no surrounding whitespace.
* IPv6 is rendered as RFC 5952 text: lower case, no leading zeros, the longest run of zero groups as ``::``.
* IPv6 zone ids (``fe80::1%eth0``) and CIDR prefixes are refused: a mapping is for one routable address.
* IPv4-mapped IPv6 (``::ffff:192.0.2.1``) is rendered in the RFC 5952 section 5 mixed notation ``::ffff:192.0.2.1``,
  on every Python version (3.11 would print ``::ffff:c000:201``). It stays an IPv6 address: we do not unwrap it to IPv4,
  because Cloudflare keys mappings by the text it was given.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

__all__ = ["InvalidIPError", "canonical_ip", "ip_version", "is_ip"]


class InvalidIPError(ValueError):
    """The text is not a single IPv4 or IPv6 address in an accepted spelling."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid IP address {value!r}: {reason}")


@lru_cache(maxsize=65536)
def canonical_ip(value: str) -> str:
    """Return the canonical text of one IP address, or raise `InvalidIPError` naming the value and the reason."""
    if not isinstance(value, str):
        raise InvalidIPError(value, "not a string")
    if value != value.strip() or not value:
        raise InvalidIPError(value, "empty or surrounded by white space")
    if "/" in value:
        raise InvalidIPError(value, "a CIDR prefix, not a single address")
    if "%" in value:
        raise InvalidIPError(value, "IPv6 zone ids are not accepted")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        octets = value.split(".")
        if len(octets) == 4 and all(o.isdigit() for o in octets):
            raise InvalidIPError(value, "IPv4 octets must be 0-255 without leading zeros") from None
        raise InvalidIPError(value, "not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def is_ip(value: str) -> bool:
    """True when `value` is an acceptable single IP address (see `canonical_ip`)."""
    try:
        canonical_ip(value)
    except InvalidIPError:
        return False
    return True


def ip_version(canonical: str) -> int:
    """4 or 6, for a canonical IP text."""
    return 6 if ":" in canonical else 4
