"""The one canonical IP function."""

import pytest

from agent.ip import InvalidIPError, canonical_ip, ip_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),  # upper case
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),  # leading zeros, longest zero run
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  # a lone zero group stays
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  # leftmost run on a tie
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),  # IPv4-mapped: RFC 5952 §5 mixed notation
        ("::FFFF:C000:0201", "::ffff:192.0.2.1"),  # same address written in hex
        ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),  # embedded IPv4 that is not IPv4-mapped
    ],
)
def test_canonical_forms(text: str, expected: str) -> None:
    """Every spelling of an address becomes its RFC 5952 text."""
    assert canonical_ip(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("192.0.2.0/24", "CIDR"),
        ("2001:db8::/32", "CIDR"),
        ("fe80::1%eth0", "zone ids"),
        ("010.0.0.1", "leading zeros"),
        (" 192.0.2.1", "white space"),
        ("", "empty"),
        ("example.com", "not an IPv4 or IPv6"),
        ("1.2.3.256", "0-255"),
    ],
)
def test_rejected_forms_name_the_value_and_reason(text: str, reason: str) -> None:
    """Refused input raises with the value and why."""
    with pytest.raises(InvalidIPError) as info:
        canonical_ip(text)
    assert reason in str(info.value)
    assert repr(text) in str(info.value)


def test_ip_version() -> None:
    assert ip_version(canonical_ip("192.0.2.1")) == 4
    assert ip_version(canonical_ip("2001:db8::1")) == 6
