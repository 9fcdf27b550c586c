"""A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests and the demo: answers A, AAAA and CNAME from a dict.

Names that are not in the table get NXDOMAIN, so resolution failures can be tested as well.
"""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rrset

__all__ = ["FakeDns"]


class FakeDns:
    """``FakeDns({"lb.example.net": ["192.0.2.1", "2001:db8::1"], "alias.example.net": "lb.example.net"})``.

    A list value gives A/AAAA answers; a string value is a CNAME target, which the server follows itself.
    """

    def __init__(self, records: dict[str, list[str] | str] | None = None) -> None:
        self.records: dict[str, list[str] | str] = {k.rstrip(".").lower(): v for k, v in (records or {}).items()}
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="fake-dns", daemon=True)
        self._running = False

    def start(self) -> FakeDns:
        self._running = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        self._sock.close()

    def __enter__(self) -> FakeDns:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        owner = question.name
        for _ in range(8):  # follow CNAME chains, bounded
            value = self.records.get(name)
            if value is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                return response
            if isinstance(value, str):
                target = dns.name.from_text(value)
                response.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", target.to_text()))
                owner, name = target, value.rstrip(".").lower()
                continue
            wanted = [a for a in value if (":" in a) == (rdtype == "AAAA")]
            if wanted and rdtype in ("A", "AAAA"):
                response.answer.append(dns.rrset.from_text_list(owner, 60, "IN", rdtype, wanted))
            return response
        response.set_rcode(dns.rcode.SERVFAIL)
        return response

    def _serve(self) -> None:
        while self._running:
            try:
                data, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            try:
                reply = self._answer(dns.message.from_wire(data))
            except Exception:  # a malformed query gets no answer, like a real server under attack
                continue
            try:
                self._sock.sendto(reply.to_wire(), peer)
            except OSError:
                return
