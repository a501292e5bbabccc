"""A Redis master, its replica and three sentinels on free ports: a failover in a few seconds.

``SentinelSet.start()`` starts them and waits until every sentinel knows the
two others and the replica (a failover needs a quorum that agrees, and a
replica to promote). ``url`` and ``environment()`` are what an app or an
``imflask-worker`` is configured with; ``current_master()`` is the node the
sentinels name now. Nothing here touches the shared Redis on 6379.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from imflask_core.config import SentinelTarget
from testkit.servers import RedisServer, SentinelServer

SERVICE = "imflask"
# Sentinel's defaults are 30 s and 3 min; these make a failover take ~2-3 s.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000


@dataclass
class SentinelSet:
    master: RedisServer
    replica: RedisServer
    sentinels: list[SentinelServer] = field(default_factory=list)
    service: str = SERVICE

    @classmethod
    def create(cls, folder: Path, *, sentinels: int = 3, quorum: int = 2) -> SentinelSet:
        master = RedisServer(data_dir=folder / "redis-1")
        replica = RedisServer(data_dir=folder / "redis-2", replica_of=master)
        watchers = [
            SentinelServer(
                master=master,
                service=SERVICE,
                quorum=quorum,
                down_after_ms=DOWN_AFTER_MS,
                failover_timeout=FAILOVER_TIMEOUT_MS,
                data_dir=folder / f"sentinel-{i + 1}",
            )
            for i in range(sentinels)
        ]
        return cls(master, replica, watchers)

    @property
    def nodes(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self, timeout: float = 30) -> SentinelSet:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_until_known(timeout)
        return self

    def wait_until_known(self, timeout: float = 30) -> float:
        """Seconds until every live sentinel sees the others and a replica up."""
        began = time.monotonic()
        others = len(self.sentinels) - 1
        while True:
            live = [s for s in self.sentinels if s.running]
            try:
                if all(s.knows(sentinels=others, replicas=1) for s in live):
                    return time.monotonic() - began
            except Exception:  # noqa: S110 - a sentinel still starting: ask again
                pass
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"the sentinels did not learn the topology in {timeout}s")
            time.sleep(0.05)

    @property
    def target(self) -> SentinelTarget:
        return SentinelTarget(
            sentinels=tuple((s.host, s.port) for s in self.sentinels), service=self.service
        )

    @property
    def url(self) -> str:
        """``redis+sentinel://...``: the ``redis_url`` setting of an app on this set."""
        return self.target.url

    def environment(self) -> dict[str, str]:
        """The same as ``FLASK_*`` variables (for a worker or CLI child process)."""
        return {
            "FLASK_REDIS_SENTINELS": ",".join(f"{s.host}:{s.port}" for s in self.sentinels),
            "FLASK_REDIS_SENTINEL_MASTER": self.service,
        }

    def named_master(self) -> tuple[str, int] | None:
        """The master's address if every live sentinel names the same one, else None."""
        answers = set()
        for sentinel in self.sentinels:
            if sentinel.running:
                try:
                    answers.add(sentinel.master_address())
                except Exception:
                    return None
        return answers.pop() if len(answers) == 1 else None

    def current_master(self) -> RedisServer | None:
        address = self.named_master()
        for node in self.nodes:
            if address == (node.host, node.port):
                return node
        return None

    def wait_for_new_master(self, old: RedisServer, timeout: float = 30) -> RedisServer:
        """The node every sentinel names once it is not ``old`` and says it is a master."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.current_master()
            if node is not None and node is not old and node.running:
                try:
                    if node.role() == "master":
                        return node
                except Exception:  # noqa: S110 - being promoted: ask again
                    pass
            time.sleep(0.02)
        raise TimeoutError(f"no new master within {timeout}s")

    def kill(self) -> None:
        for server in [*self.sentinels, *self.nodes]:
            server.kill()
