"""A synthetic collector for runner tests: accounts → regions → two addresses per region."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection, Iterator

from agent.collectors.base import Collector
from agent.errors import CollectorError
from agent.models import CloudAddress, Scope, Vendor


class TreeCollector(Collector):
    """Scopes in `fail` raise; a leaf in `die` ends its process at once; `delay` sleeps in every scope.

    Records carry the pid of the process that collected them; `peak` is the most scopes seen running at once.
    """

    source = "aws"

    def __init__(
        self,
        accounts: int = 3,
        regions: int = 4,
        fail: Collection[str] = (),
        die: Collection[str] = (),
        delay: float = 0.0,
    ) -> None:
        self.accounts, self.regions, self.fail, self.die, self.delay = accounts, regions, fail, die, delay
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    @classmethod
    def from_config(cls, config: object) -> TreeCollector:
        return cls()

    def scopes(self) -> Iterator[Scope]:
        for a in range(self.accounts):
            yield Scope(self.source, (f"acct{a}",), leaf=False)

    def leaves(self) -> list[Scope]:
        return [Scope("aws", (f"acct{a}", f"region{r}")) for a in range(self.accounts) for r in range(self.regions)]

    def collect(self, scope: Scope) -> Iterator[CloudAddress | Scope]:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            if self.delay:
                time.sleep(self.delay)
            if scope.label in self.die:
                os._exit(7)
            if scope.label in self.fail:
                raise CollectorError(f"denied on {scope.label}", vendor="aws", code="AccessDenied")
            if not scope.leaf:
                for r in range(self.regions):
                    yield Scope(self.source, (*scope.path, f"region{r}"))
                return
            account, region = scope.path
            a, r = int(account[4:]), int(region[6:])
            for n in (1, 2):
                yield CloudAddress(
                    ip=f"10.{a}.{r}.{n}", vendor=Vendor.AWS, region=region, account=account, source="aws",
                    details=(("pid", str(os.getpid())),),
                )  # fmt: skip
        finally:
            with self.lock:
                self.active -= 1
