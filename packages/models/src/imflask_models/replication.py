"""Replication positions: where the MySQL primary was when this unit of work wrote.

A position is a MariaDB GTID list, ``domain-server-seq`` joined by commas, one
per replication domain (``0-1-42`` with one primary). A replica that has
applied a position has applied every transaction committed before it in its
domain, so the largest ``seq`` per domain is all that needs keeping (the
server id is ignored by ``MASTER_GTID_WAIT``; it only says who wrote it).

``SqlDatabase`` notes the GTID of each commit that wrote (``@@last_gtid``) when
it tracks them (only with read replicas configured); the cache records the
position behind each generation bump (``redis/cache.py``) and the controllers
remember it per user (``imflask_controllers.reads``). Nothing is noted, and
nothing costs anything, when no replica is configured.
"""

from __future__ import annotations

from contextvars import ContextVar

# What this thread (or task) has committed since its unit of work began: a request's
# writes, a job's. Conservative by construction: positions only ever grow.
_written: ContextVar[str | None] = ContextVar("imflask_written_position", default=None)


def parse(position: str | None) -> dict[int, tuple[int, int]]:
    """``{domain: (server, seq)}`` of a GTID list; empty for None or ``""``."""
    parsed: dict[int, tuple[int, int]] = {}
    for gtid in (position or "").split(","):
        gtid = gtid.strip()
        if not gtid:
            continue
        domain, server, seq = (int(part) for part in gtid.split("-"))
        if domain not in parsed or parsed[domain][1] < seq:
            parsed[domain] = (server, seq)
    return parsed


def merge(*positions: str | None) -> str | None:
    """The position that includes all of these (per domain, the largest seq), or None."""
    merged: dict[int, tuple[int, int]] = {}
    for position in positions:
        for domain, (server, seq) in parse(position).items():
            if domain not in merged or merged[domain][1] < seq:
                merged[domain] = (server, seq)
    if not merged:
        return None
    return ",".join(f"{d}-{server}-{seq}" for d, (server, seq) in sorted(merged.items()))


def includes(applied: str | None, position: str | None) -> bool:
    """Whether a server that has applied ``applied`` has applied ``position`` too (per
    domain, a seq at least as large; a domain ``applied`` lacks is not included)."""
    have = parse(applied)
    return all(
        domain in have and have[domain][1] >= seq for domain, (_, seq) in parse(position).items()
    )


def note(gtid: str | None) -> None:
    """A commit of this unit of work wrote at ``gtid`` (``SqlDatabase`` calls this)."""
    if gtid:
        _written.set(merge(_written.get(), gtid))


def written() -> str | None:
    """The position that includes every write this unit of work committed, or None."""
    return _written.get()


def begin_unit() -> None:
    """A new unit of work (a request's write) starts: forget what this thread wrote before."""
    _written.set(None)
