"""Deterministic fake data for development, demos and benchmarks, inserted in bulk.

Every user's password is ``password``: it is hashed once and the hash reused,
since hashing is deliberately slow.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from imflask_controllers import effects
from imflask_controllers.context import Context
from imflask_controllers.slugs import slugify
from imflask_models.mysql import articles as articles_table
from imflask_models.mysql import favorites, follows
from imflask_models.mysql import tags as tags_table
from imflask_models.mysql import users as users_table
from imflask_models.mysql.dialect import utcnow

SEED_PASSWORD = "password"  # noqa: S105 - fake accounts for local data only
BATCH = 1000
SEEDED_TABLES = ["users", "articles", "tags", "article_tags", "follows", "favorites"]
WORDS = (
    "dragon", "training", "python", "flask", "redis", "mongo", "mysql", "cache", "index",
    "query", "layer", "worker", "queue", "token", "slug", "feed", "follow", "favorite",
    "comment", "profile", "article", "tag", "design", "scale", "deploy", "test", "bench",
    "latency", "memory", "process", "thread", "pool", "shard", "replica", "backup", "review",
    "refactor", "module", "package", "import", "contract", "boundary", "domain", "rule",
    "error",
)  # fmt: skip
TAGS = [f"{word}{n}" if n else word for n in range(3) for word in WORDS[:20]]


@dataclass(frozen=True)
class SeedPlan:
    users: int
    articles: int
    tags_per_article: int = 3
    follows_per_user: int = 20
    favorites_per_user: int = 30
    seed: int = 1

    def expected_rows(self) -> int:
        """Roughly how many rows the plan inserts (for a progress bar)."""
        per_user = self.follows_per_user + self.favorites_per_user
        return self.users * (1 + per_user) + self.articles


@dataclass(frozen=True)
class SeedReport:
    users: int
    articles: int
    tag_links: int
    follows: int
    favorites: int


Progress = Callable[[str, int], None]  # (what, how many were just inserted)


def seed(ctx: Context, plan: SeedPlan, progress: Progress | None = None) -> SeedReport:
    """Insert ``plan``'s users, articles, tags, follows and favorites.

    Deterministic and idempotent: the same plan and seed give the same rows, and
    running it twice adds nothing the second time. Another seed adds another set.
    """
    rng = random.Random(plan.seed)  # noqa: S311 - fake data, not secrets
    report: Progress = progress or _quiet
    password_hash = ctx.passwords.hash(SEED_PASSWORD)
    prefix = f"s{plan.seed}x{rng.randrange(16**6):06x}"
    now = utcnow()

    rows: list[dict[str, Any]]  # of one batch of inserts
    user_ids: list[int] = []
    for start in range(0, plan.users, BATCH):
        rows = [
            {
                "username": f"{prefix}u{i}",
                "email": f"{prefix}u{i}@seed.conduit.test",
                "password_hash": password_hash,
                "bio": _sentence(rng, 6),
                "image": None,
                "now": now,
            }
            for i in range(start, min(start + BATCH, plan.users))
        ]
        with ctx.stores.sql.transaction() as conn:
            ids = users_table.insert_users(conn, rows)
        user_ids.extend(ids[row["username"]] for row in rows)
        report("users", len(rows))

    with ctx.stores.sql.transaction() as conn:
        by_name = tags_table.ensure_tags(conn, TAGS)
    tag_ids = [by_name[name] for name in sorted(by_name)]

    tag_links = 0
    article_ids: list[int] = []
    for start in range(0, plan.articles, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, plan.articles)):
            title = f"{_sentence(rng, 5).capitalize()} {i}"
            rows.append(
                {
                    "slug": f"{slugify(title)}-{prefix}",
                    "title": title,
                    "description": _sentence(rng, 12),
                    "body": "\n\n".join(_sentence(rng, 40) for _ in range(4)),
                    "author_id": rng.choice(user_ids),
                    # a few seconds apart, so "newest first" means something
                    "created_at": now - timedelta(seconds=(plan.articles - i) * 3),
                }
            )
        with ctx.stores.sql.transaction() as conn:
            by_slug = articles_table.insert_articles(conn, rows)
            ids = [by_slug[row["slug"]] for row in rows]
            links = [
                (article_id, tag_id)
                for article_id in ids
                for tag_id in rng.sample(tag_ids, min(plan.tags_per_article, len(tag_ids)))
            ]
            tags_table.link_tags(conn, links)
        article_ids.extend(ids)
        tag_links += len(links)
        report("articles", len(rows))

    follow_pairs = _pairs(rng, user_ids, user_ids, plan.follows_per_user, distinct=True)
    favorite_pairs = _pairs(rng, user_ids, article_ids, plan.favorites_per_user)
    for insert, pairs, what in (
        (follows.follow_many, follow_pairs, "follows"),
        (favorites.favorite_many, favorite_pairs, "favorites"),
    ):
        for start in range(0, len(pairs), BATCH * 5):
            batch = pairs[start : start + BATCH * 5]
            with ctx.stores.sql.transaction() as conn:
                insert(conn, batch)
            report(what, len(batch))

    with ctx.stores.sql.connection() as conn:
        conn.refresh_statistics(SEEDED_TABLES)
    effects.data_seeded(ctx)
    return SeedReport(
        len(user_ids), len(article_ids), tag_links, len(follow_pairs), len(favorite_pairs)
    )


def _quiet(what: str, count: int) -> None:
    """No progress report."""


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _pairs(
    rng: random.Random,
    owners: list[int],
    targets: list[int],
    per_owner: int,
    distinct: bool = False,
) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for owner in owners:
        candidates = rng.sample(targets, min(per_owner + 1, len(targets)))
        chosen = [t for t in candidates if not (distinct and t == owner)][:per_owner]
        pairs.extend((owner, target) for target in chosen)
    return pairs
