"""Article, comment and favorite rules on the real stores, including races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from imflask_controllers import articles, comments, users
from imflask_controllers.errors import Forbidden, NotFound
from imflask_controllers.slugs import slugify, with_suffix


def make_user(ctx, name):
    registered = users.register_user(
        ctx, username=name, email=f"{name}@conduit.test", password="password1", client_ip="test"
    )
    return users.authenticate(ctx, registered.token).user


def make_article(ctx, author, title="A title", tags=("a",)):
    return articles.create_article(
        ctx, author=author, title=title, description="d", body="b", tags=list(tags)
    )


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("How to train your dragon", "how-to-train-your-dragon"),
        ("  Über  die   Brücke!! ", "über-die-brücke"),
        ("日本語のタイトル", "日本語のタイトル"),
        ("snake_case and CAPS", "snake-case-and-caps"),
        ("?!.", "article"),
        ("x" * 300, "x" * 200),
    ],
)
def test_slugs_are_made_from_titles(title, slug):
    assert slugify(title) == slug


def test_a_suffixed_slug_keeps_the_base_and_its_length_limit():
    suffixed = with_suffix("x" * 200)

    assert suffixed.startswith("x" * 193 + "-")
    assert len(suffixed) == 200


def test_racing_writers_of_one_title_all_get_distinct_slugs(ctx):
    author = make_user(ctx, "jake")
    start = threading.Barrier(6)

    def publish(_):
        start.wait()
        return make_article(ctx, author, title="Breaking news").slug

    with ThreadPoolExecutor(max_workers=6) as pool:
        slugs = list(pool.map(publish, range(6)))

    assert len(set(slugs)) == 6
    assert "breaking-news" in slugs


def test_concurrent_favorites_and_unfavorites_keep_an_exact_count(ctx):
    author = make_user(ctx, "author")
    slug = make_article(ctx, author).slug
    fans = [make_user(ctx, f"fan{i}") for i in range(12)]
    start = threading.Barrier(len(fans))

    def churn(fan):
        start.wait()
        for _ in range(3):
            articles.favorite_article(ctx, slug=slug, user=fan)
            articles.unfavorite_article(ctx, slug=slug, user=fan)
        if fan.id % 2 == 0:
            articles.favorite_article(ctx, slug=slug, user=fan)

    with ThreadPoolExecutor(max_workers=len(fans)) as pool:
        list(pool.map(churn, fans))

    expected = sum(1 for fan in fans if fan.id % 2 == 0)
    assert articles.get_article(ctx, slug=slug, viewer=None).favorites_count == expected
    with ctx.stores.sql.connection() as conn:
        assert conn.scalar("SELECT COUNT(*) AS n FROM favorites") == expected


def test_concurrent_comments_get_unique_increasing_ids(ctx):
    author = make_user(ctx, "jake")
    slug = make_article(ctx, author).slug
    start = threading.Barrier(8)

    def add(i):
        start.wait()
        return [
            comments.add_comment(ctx, slug=slug, author=author, body=f"{i}-{n}").id
            for n in range(5)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for batch in pool.map(add, range(8)) for i in batch]

    assert len(set(ids)) == 40
    listed = [c.id for c in comments.list_comments(ctx, slug=slug, viewer=None)]
    assert sorted(listed) == sorted(ids)


def test_only_the_author_may_update(ctx):
    jake, anne = make_user(ctx, "jake"), make_user(ctx, "anne")
    slug = make_article(ctx, jake).slug

    with pytest.raises(Forbidden):
        articles.update_article(ctx, slug=slug, editor=anne, title="mine now")


def test_a_retitle_that_makes_the_same_slug_keeps_it(ctx):
    jake = make_user(ctx, "jake")
    slug = make_article(ctx, jake, title="Hello world").slug

    updated = articles.update_article(ctx, slug=slug, editor=jake, title="Hello, World!")

    assert updated.slug == slug
    assert updated.title == "Hello, World!"


def test_retitling_to_a_taken_slug_gets_a_distinct_one(ctx):
    jake = make_user(ctx, "jake")
    make_article(ctx, jake, title="Taken")
    slug = make_article(ctx, jake, title="Free").slug

    updated = articles.update_article(ctx, slug=slug, editor=jake, title="Taken")

    assert updated.slug.startswith("taken-")


def test_deleting_an_article_takes_its_favorites_and_tag_links(ctx):
    jake, anne = make_user(ctx, "jake"), make_user(ctx, "anne")
    slug = make_article(ctx, jake, tags=["x", "y"]).slug
    articles.favorite_article(ctx, slug=slug, user=anne)

    articles.delete_article(ctx, slug=slug, user=jake)

    with ctx.stores.sql.connection() as conn:
        assert conn.scalar("SELECT COUNT(*) AS n FROM favorites") == 0
        assert conn.scalar("SELECT COUNT(*) AS n FROM article_tags") == 0
    with pytest.raises(NotFound):
        articles.get_article(ctx, slug=slug, viewer=None)


def test_pruning_removes_only_the_comments_of_articles_that_are_gone(ctx, monkeypatch):
    monkeypatch.setattr(comments, "PRUNE_BATCH", 2)  # several rounds
    jake = make_user(ctx, "jake")
    slugs = [make_article(ctx, jake, title=f"article {n}").slug for n in range(5)]
    for slug in slugs:
        comments.add_comment(ctx, slug=slug, author=jake, body="one")
        comments.add_comment(ctx, slug=slug, author=jake, body="two")
    with ctx.stores.sql.connection() as conn:  # gone without their comments, as if Mongo was down
        conn.execute("DELETE FROM articles WHERE slug IN %(slugs)s", {"slugs": slugs[1::2]})

    assert comments.prune_orphaned_comments(ctx) == 4
    assert comments.prune_orphaned_comments(ctx) == 0
    for slug in slugs[0::2]:
        assert len(comments.list_comments(ctx, slug=slug, viewer=None)) == 2
    assert ctx.stores.mongo.db["comments"].count_documents({}) == 6


def test_the_page_total_counts_every_match(ctx):
    jake = make_user(ctx, "jake")
    for i in range(7):
        make_article(ctx, jake, title=f"n{i}", tags=["even" if i % 2 == 0 else "odd"])

    page = articles.list_articles(ctx, viewer=None, tag="even", limit=2, offset=0)

    assert page.total == 4
    assert [a.title for a in page.articles] == ["n6", "n4"]


def test_deep_offsets_return_the_right_page(ctx):
    jake = make_user(ctx, "jake")
    for i in range(30):
        make_article(ctx, jake, title=f"n{i:02}", tags=[])

    page = articles.list_articles(ctx, viewer=None, limit=5, offset=25)

    assert [a.title for a in page.articles] == ["n04", "n03", "n02", "n01", "n00"]
    assert articles.list_articles(ctx, viewer=None, limit=5, offset=30).articles == []
