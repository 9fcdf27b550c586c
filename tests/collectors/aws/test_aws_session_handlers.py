"""The collector's botocore sessions keep only the built-in handlers EC2, STS and Organizations can fire, unaliased.

This guards a CPU optimisation (see `_our_builtin_handlers`): for every event one of our clients emits, the handlers
found must be exactly those a stock botocore session finds, in the same order. Reading the handler tree is the only
way to see them; nothing is patched.
"""

from __future__ import annotations

import botocore.handlers
import botocore.session

from agent.collectors.aws.collector import _OPERATIONS, _new_session

_EVENT_TYPES = sorted(
    {spec[0].split(".")[0] for spec in botocore.handlers.BUILTIN_HANDLERS}
    | {"before-send", "needs-retry", "after-call-error", "response-received", "before-endpoint-resolution"}
)


def _handlers(session: botocore.session.Session, event: str) -> list[object]:
    aliaser = session.get_component("event_emitter")
    return list(aliaser._emitter._handlers.prefix_search(aliaser._alias_event_name(event)))


def test_every_event_of_our_services_sees_the_stock_handlers() -> None:
    stock, ours = botocore.session.Session(), _new_session()
    checked = 0
    for event_type in _EVENT_TYPES:
        names = [event_type]
        for service, operations in _OPERATIONS.items():
            event_id = stock.get_service_model(service).service_id.hyphenize()  # what clients emit: config-service
            names.append(f"{event_type}.{event_id}")
            names.extend(f"{event_type}.{event_id}.{operation}" for operation in sorted(operations))
        for name in names:
            assert _handlers(ours, name) == _handlers(stock, name), name
            # our clients' emitter does not rename events: right only if botocore's aliases leave ours unchanged
            assert stock.get_component("event_emitter")._alias_event_name(name) == name
            checked += bool(_handlers(stock, name))
    assert checked > 20  # the comparison saw real handlers, e.g. before-call, choose-signer, before-parameter-build


def test_other_services_handlers_are_left_out() -> None:
    stock, ours = botocore.session.Session(), _new_session()
    event = "before-parameter-build.s3.PutObject"
    assert len(_handlers(ours, event)) < len(_handlers(stock, event))


def test_sessions_do_not_share_handlers_registered_later() -> None:
    first, second = _new_session(), _new_session()
    first.register("before-call.ec2.DescribeAddresses", _marker)
    assert _marker in _handlers(first, "before-call.ec2.DescribeAddresses")
    assert _marker not in _handlers(second, "before-call.ec2.DescribeAddresses")


def _marker(**_: object) -> None:
    """A handler to find in the tree."""
