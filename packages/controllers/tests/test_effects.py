"""What follows a write is ``effects``'s alone, and runs only once the write has committed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import imflask_controllers
from imflask_controllers import articles, background, caches, comments, lists, users
from imflask_models.mongo import comments as comments_collection
from imflask_models.redis import cache
from testkit import source as source_code

# The modules that carry out effects; every other controller module is a use case.
# (``reads`` keeps a writer's commit position once the write commits: read-your-writes.)
EFFECT_MODULES = {"effects", "caches", "lists", "background", "reads"}
# What only those modules may do: invalidate, bump list scopes, record or dispatch jobs.
FORBIDDEN_IN_USE_CASES = re.compile(
    r"\bcache\.\w+|redis import cache|after_commit|background\.(record|dispatch)\b"
    r"|caches\.forget_|lists\.(article_published|everything_changed|favorite_changed"
    r"|follows_changed|_bump)\b"
)
JOB_NAME = re.compile(r"imflask_worker\.jobs\.\w+$")


def use_case_modules() -> list[Path]:
    folder = Path(imflask_controllers.__file__).parent
    return [path for path in sorted(folder.glob("*.py")) if path.stem not in EFFECT_MODULES]


def effect_leaks(source: str) -> list[str]:
    """What a use case's source does that only ``effects`` should: cache or job names."""
    leaks = [match.group(0) for match in FORBIDDEN_IN_USE_CASES.finditer(source)]
    leaks += [
        node.value
        for node in ast.walk(source_code.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (JOB_NAME.match(node.value) or node.value == caches.POPULAR_TAGS)
    ]
    return sorted(leaks)


def test_the_source_check_sees_a_cache_call_and_a_job_name():
    leaky = 'cache.invalidate(r, cache.TAGS, "popular")\nJOB = "imflask_worker.jobs.notify"\n'

    assert effect_leaks(leaky) == [
        "cache.TAGS",
        "cache.invalidate",
        "imflask_worker.jobs.notify",
        "popular",
    ]


@pytest.mark.parametrize("path", use_case_modules(), ids=lambda path: path.stem)
def test_no_use_case_names_a_cache_entry_or_a_job(path):
    assert effect_leaks(path.read_text()) == []


def make_user(ctx, name):
    registered = users.register_user(
        ctx, username=name, email=f"{name}@conduit.test", password="password1", client_ip="test"
    )
    return users.authenticate(ctx, registered.token).user


def generations(ctx, slug):
    """The cache generations the article's writes bump: its entry, the popular tags, lists."""
    store = ctx.stores.redis
    keys = [
        cache.ARTICLE.generation_key(store, slug),
        cache.TAGS.generation_key(store, caches.POPULAR_TAGS),
        cache.ARTICLE_LISTS.generation_key(store, lists.EVERY),
    ]
    return [int(value or 0) for value in store.client.mget(keys)]


def stored_comments(ctx, article_id):
    return len(comments_collection.comments_of_article(ctx.stores.mongo.db, article_id, limit=10))


class Rollback(Exception):
    pass


def test_a_rolled_back_unit_of_work_runs_none_of_its_writes_effects(ctx):
    author = make_user(ctx, "anne")
    slug = articles.create_article(
        ctx, author=author, title="Kept", description="d", body="b", tags=["a"]
    ).slug
    comments.add_comment(ctx, slug=slug, author=author, body="stays")
    before = generations(ctx, slug)

    def change_delete_then_fail():
        with ctx.stores.sql.unit_of_work():
            articles.update_article(ctx, slug=slug, editor=author, title="Changed", tags=["b"])
            articles.delete_article(ctx, slug="changed", user=author)
            raise Rollback

    with pytest.raises(Rollback):
        change_delete_then_fail()

    assert generations(ctx, slug) == before
    assert [c.body for c in comments.list_comments(ctx, slug=slug, viewer=None)] == ["stays"]
    assert background.pending_count(ctx) == 0
    assert articles.get_article(ctx, slug=slug, viewer=None).title == "Kept"


def test_a_unit_of_work_runs_its_writes_effects_after_its_commit(ctx):
    author = make_user(ctx, "anne")
    slug = articles.create_article(
        ctx, author=author, title="Gone", description="d", body="b", tags=["a"]
    ).slug
    comments.add_comment(ctx, slug=slug, author=author, body="goes")
    article_id = articles.article_id_by_slug(ctx, slug)
    before = generations(ctx, slug)

    with ctx.stores.sql.unit_of_work():
        articles.delete_article(ctx, slug=slug, user=author)
        inside = generations(ctx, slug)
        comments_inside = stored_comments(ctx, article_id)

    assert inside == before
    assert comments_inside == 1  # the job that deletes them waits for the commit
    bumped = [after - was for after, was in zip(generations(ctx, slug), before, strict=True)]
    assert bumped == [1, 1, 1]
    assert stored_comments(ctx, article_id) == 0
