"""Cache-aside on Redis: reads after writes are fresh, and a Redis outage is not an error."""

from __future__ import annotations

import pytest


def test_an_article_read_after_an_update_is_fresh(client, ctx, sign_up, publish):
    jake = sign_up()
    slug = publish(jake)["slug"]
    client.get(f"/api/articles/{slug}")  # now cached
    assert ctx.stores.redis.client.keys(f"{ctx.settings.redis_key_prefix}cache:article:*")

    client.put(f"/api/articles/{slug}", headers=jake.headers, json={"article": {"body": "v2"}})

    assert client.get(f"/api/articles/{slug}").get_json()["article"]["body"] == "v2"


def test_a_favorites_count_read_after_favoriting_is_fresh(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    client.get(f"/api/articles/{slug}")

    client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)

    assert client.get(f"/api/articles/{slug}").get_json()["article"]["favoritesCount"] == 1


def test_a_profile_read_after_the_user_changes_is_fresh(client, sign_up, publish):
    jake = sign_up("jake")
    slug = publish(jake)["slug"]
    client.get("/api/profiles/jake")
    client.get(f"/api/articles/{slug}")

    client.put("/api/user", headers=jake.headers, json={"user": {"bio": "new", "username": "jo"}})

    assert client.get("/api/profiles/jake").status_code == 404
    assert client.get("/api/profiles/jo").get_json()["profile"]["bio"] == "new"
    assert client.get(f"/api/articles/{slug}").get_json()["article"]["author"] == {
        "username": "jo",
        "bio": "new",
        "image": None,
        "following": False,
    }


def test_tags_read_after_publishing_are_fresh(client, sign_up, publish):
    jake = sign_up()
    publish(jake, title="one", tagList=["old"])
    assert client.get("/api/tags").get_json() == {"tags": ["old"]}

    publish(jake, title="two", tagList=["new", "old"])

    assert client.get("/api/tags").get_json() == {"tags": ["old", "new"]}


def test_a_slug_reused_after_a_delete_is_not_served_from_the_cache(client, sign_up, publish):
    jake = sign_up()
    slug = publish(jake, body="first")["slug"]
    client.get(f"/api/articles/{slug}")
    client.delete(f"/api/articles/{slug}", headers=jake.headers)

    again = publish(jake, body="second")

    assert again["slug"] == slug
    assert client.get(f"/api/articles/{slug}").get_json()["article"]["body"] == "second"


def test_a_racing_reader_cannot_store_an_old_value_for_later_readers(ctx):
    from imflask_models.redis import cache

    store = ctx.stores.redis
    stale_loads = []

    def slow_stale_load():
        # The writer commits and invalidates while this reader is still loading.
        cache.invalidate(store, cache.TAGS, "race")
        stale_loads.append(1)
        return ["old"]

    first = cache.cached(store, cache.TAGS, "race", slow_stale_load, ttl=60)
    second = cache.cached(store, cache.TAGS, "race", lambda: ["new"], ttl=60)

    assert first == ["old"]
    assert second == ["new"]


@pytest.fixture
def no_redis_app(make_app):
    """An app whose Redis does not answer (nothing listens on port 1)."""
    return make_app(redis_url="redis://127.0.0.1:1/0", store_connect_timeout=0.5)


def test_without_redis_reads_and_writes_still_work_uncached(no_redis_app):
    client = no_redis_app.test_client()
    registered = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    )
    headers = {"Authorization": f"Token {registered.get_json()['user']['token']}"}

    created = client.post(
        "/api/articles",
        headers=headers,
        json={"article": {"title": "t", "description": "d", "body": "b", "tagList": ["x"]}},
    )
    article = client.get("/api/articles/t")
    tags = client.get("/api/tags")
    profile = client.get("/api/profiles/jake", headers=headers)
    login = client.post(
        "/api/users/login", json={"user": {"email": "jake@jake.jake", "password": "jakejake"}}
    )

    assert registered.status_code == 201
    assert "refresh_token" not in registered.headers.get("Set-Cookie", "")
    assert created.status_code == 201
    assert article.status_code == 200
    assert tags.get_json() == {"tags": ["x"]}
    assert profile.status_code == 200
    assert login.status_code == 200
    assert client.get("/readyz").get_json()["redis"] == "down"


def test_without_redis_refreshing_is_a_503(no_redis_app):
    client = no_redis_app.test_client()
    client.set_cookie("refresh_token", "whatever", path="/api/auth")

    response = client.post("/api/auth/refresh")

    assert response.status_code == 503
    assert response.get_json() == {"errors": {"redis": ["is unavailable, try again shortly"]}}


def test_without_mongo_comments_are_a_503_and_the_rest_works(make_app):
    app = make_app(
        mongo_uri="mongodb://127.0.0.1:1/?directConnection=true", store_connect_timeout=0.5
    )
    client = app.test_client()
    token = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    ).get_json()["user"]["token"]
    headers = {"Authorization": f"Token {token}"}
    client.post(
        "/api/articles",
        headers=headers,
        json={"article": {"title": "t", "description": "d", "body": "b"}},
    )

    comments = client.get("/api/articles/t/comments")
    article = client.get("/api/articles/t")

    assert comments.status_code == 503
    assert comments.get_json() == {"errors": {"mongo": ["is unavailable, try again shortly"]}}
    assert article.status_code == 200


def test_list_counts_read_after_writes_are_fresh(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake, title="first")["slug"]

    def count(query="", headers=None, path="/api/articles"):
        return client.get(f"{path}?{query}", headers=headers or {}).get_json()["articlesCount"]

    assert (
        count(),
        count("favorited=anne"),
        count(path="/api/articles/feed", headers=anne.headers),
    ) == (1, 0, 0)

    publish(jake, title="second")
    client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)
    client.post("/api/profiles/jake/follow", headers=anne.headers)

    assert count() == 2
    assert count("favorited=anne") == 1
    assert count(path="/api/articles/feed", headers=anne.headers) == 2

    client.delete(f"/api/articles/{slug}/favorite", headers=anne.headers)
    client.delete("/api/profiles/jake/follow", headers=anne.headers)
    client.delete(f"/api/articles/{slug}", headers=jake.headers)

    assert count() == 1
    assert count("favorited=anne") == 0
    assert count(path="/api/articles/feed", headers=anne.headers) == 0


def test_the_feeds_flags_read_after_favoriting_are_fresh(client, ctx, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    client.post("/api/profiles/jake/follow", headers=anne.headers)

    def listed():
        article = client.get("/api/articles/feed", headers=anne.headers).get_json()["articles"][0]
        return article["favorited"], article["favoritesCount"], article["author"]["following"]

    assert listed() == (False, 0, True)
    assert ctx.stores.redis.client.keys(f"{ctx.settings.redis_key_prefix}cache:article-lists:*")

    client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)
    assert listed() == (True, 1, True)

    client.delete(f"/api/articles/{slug}/favorite", headers=anne.headers)
    assert listed() == (False, 0, True)


def test_list_pages_read_after_writes_are_fresh(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake, title="Old title", tagList=["a"])["slug"]

    def first(headers=None):
        return client.get("/api/articles", headers=headers or {}).get_json()["articles"][0]

    first()  # the page is cached now
    client.put(
        f"/api/articles/{slug}", headers=jake.headers, json={"article": {"title": "New title"}}
    )
    renamed = first()
    client.post("/api/articles/new-title/favorite", headers=anne.headers)
    favorited = first(anne.headers)
    client.put("/api/user", headers=jake.headers, json={"user": {"bio": "fresh bio"}})
    rebio = first()

    assert renamed["title"] == "New title"
    assert renamed["slug"] == "new-title"
    assert (favorited["favorited"], favorited["favoritesCount"]) == (True, 1)
    assert first()["favorited"] is False  # the flags are per viewer, not cached
    assert rebio["author"]["bio"] == "fresh bio"


def test_without_mongo_an_article_is_still_deleted_and_its_comments_pruned_later(
    app, client, ctx, make_app, sign_up, publish
):
    jake = sign_up("jake")
    doomed, kept = publish(jake, title="doomed")["slug"], publish(jake, title="kept")["slug"]
    for slug in (doomed, doomed, kept):
        response = client.post(
            f"/api/articles/{slug}/comments",
            headers=jake.headers,
            json={"comment": {"body": "hi"}},
        )
        assert response.status_code == 200
    no_mongo = make_app(
        mongo_uri="mongodb://127.0.0.1:1/?directConnection=true",
        store_connect_timeout=0.5,
        secret_key=ctx.settings.secret_key,  # jake's token is good there too
    )

    deleted = no_mongo.test_client().delete(f"/api/articles/{doomed}", headers=jake.headers)

    assert deleted.status_code == 204
    assert client.get(f"/api/articles/{doomed}").status_code == 404
    comments = ctx.stores.mongo.db["comments"]
    assert comments.count_documents({}) == 3  # unreachable, until the sweep

    pruned = no_mongo.test_cli_runner().invoke(args=["db", "prune"])
    assert pruned.exit_code == 1
    assert "mongo is unavailable" in pruned.output

    pruned = app.test_cli_runner().invoke(args=["db", "prune"])
    assert pruned.exit_code == 0, pruned.output
    assert "comments of deleted articles removed: 2" in pruned.output
    assert comments.count_documents({}) == 1
    assert len(client.get(f"/api/articles/{kept}/comments").get_json()["comments"]) == 1
