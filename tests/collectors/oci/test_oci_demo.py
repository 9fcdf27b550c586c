"""`start_demo` + the collector yield exactly the demo's expected regions."""

from __future__ import annotations

import contextlib
from typing import Any

from agent.collectors.oci.collector import OciCollector
from agent.ip import canonical_ip
from agent.sandbox.oci import start_demo


def test_demo_cloud_maps_exactly_the_expected_regions(walk: Any) -> None:
    """Every expected IP in its region, nothing else; the IP in a pending region is in origin_ips but not mapped."""
    with contextlib.ExitStack() as stack:
        demo = start_demo(stack)
        assert demo.source == "oci"
        result = walk(OciCollector.from_config(demo.config))
    assert result.errors == {}
    assert result.regions == demo.expected_regions
    assert len({r.region for r in result.records}) >= 3
    unmapped = set(demo.origin_ips) - set(demo.expected_regions)
    assert len(unmapped) == 1 and not unmapped & {r.ip for r in result.records}
    assert all(canonical_ip(ip) == ip for ip in demo.origin_ips)


def test_demo_stops_its_fake_with_the_stack() -> None:
    """Closing the stack stops the server: the endpoint no longer answers."""
    import urllib.error
    import urllib.request

    with contextlib.ExitStack() as stack:
        demo = start_demo(stack)
        url = demo.config["endpoint_template"].format(region="us-ashburn-1") + "/20160918/availabilityDomains"
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        raise AssertionError("the fake still answers after the stack closed") from None
    except OSError:
        pass
