"""The list cache: unambiguous keys, and generations fine enough to survive write traffic.

Which write makes which page stale is the table in ``imflask_controllers/lists.py``;
these tests hold it to what a client sees, and count cache hits and misses with
the app's own counter (``imflask_cache_lookups_total``).
"""

from __future__ import annotations

import pytest

from imflask_controllers import lists
from imflask_core.observability import CACHE_LOOKUPS


def lookups(family: str = "article-lists") -> tuple[float, float]:
    """(hits, misses) of a cache family so far in this process."""
    return tuple(CACHE_LOOKUPS.labels(family, result)._value.get() for result in ("hit", "miss"))


@pytest.fixture
def hits_and_misses():
    """``since()``: (hits, misses) of the list cache since the fixture was taken."""
    start = lookups()

    def since() -> tuple[int, int]:
        now = lookups()
        return int(now[0] - start[0]), int(now[1] - start[1])

    return since


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [article["slug"] for article in response.get_json()["articles"]]


def test_queries_that_concatenate_alike_never_share_a_cache_entry(client, sign_up, publish):
    jake = sign_up("jake")
    slug = publish(jake, tagList=["news&author=x"])["slug"]
    # An author named "x&author=" does not exist: this query plants an empty page...
    planted = client.get("/api/articles?tag=news&author=x%26author%3D")
    # ...under the key the old concatenation also gave this one, which matches the article.
    tagged = client.get("/api/articles?tag=news%26author%3Dx")

    assert slugs(planted) == []
    assert slugs(tagged) == [slug]


def test_a_favorite_keeps_every_page_but_the_favoriters_own(
    client, sign_up, publish, hits_and_misses
):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake, tagList=["dragons"])["slug"]
    pages = ["/api/articles", "/api/articles?tag=dragons", "/api/articles?author=jake"]
    for path in pages:
        client.get(path)
    filled = hits_and_misses()

    client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)
    counts = [client.get(path).get_json()["articles"][0]["favoritesCount"] for path in pages]
    by_anne = slugs(client.get("/api/articles?favorited=anne"))
    after = hits_and_misses()

    assert filled == (0, 3)
    assert counts == [1, 1, 1]  # each count is read apart from the page: fresh
    assert by_anne == [slug]
    assert (after[0] - filled[0], after[1] - filled[1]) == (3, 1)  # only anne's page missed


def test_a_new_article_leaves_other_tags_and_authors_pages_cached(
    client, sign_up, publish, hits_and_misses
):
    jake, anne = sign_up("jake"), sign_up("anne")
    publish(jake, title="Dragons", tagList=["dragons"])
    kept = ["/api/articles?tag=dragons", "/api/articles?author=jake"]
    stale = ["/api/articles", "/api/articles?tag=unicorns", "/api/articles?author=anne"]
    for path in kept + stale:
        client.get(path)
    filled = hits_and_misses()

    unicorns = publish(anne, title="Unicorns", tagList=["unicorns"])["slug"]
    listed = {path: slugs(client.get(path)) for path in kept + stale}
    after = hits_and_misses()

    assert (after[0] - filled[0], after[1] - filled[1]) == (len(kept), len(stale))
    assert all(unicorns in listed[path] for path in stale)
    assert not any(unicorns in listed[path] for path in kept)


def test_a_follow_changes_only_the_followers_feed(client, sign_up, publish, hits_and_misses):
    jake, anne, bob = sign_up("jake"), sign_up("anne"), sign_up("bob")
    slug = publish(jake)["slug"]
    client.get("/api/articles/feed", headers=anne.headers)
    client.get("/api/articles/feed", headers=bob.headers)
    client.get("/api/articles")
    filled = hits_and_misses()

    client.post("/api/profiles/jake/follow", headers=anne.headers)
    annes = slugs(client.get("/api/articles/feed", headers=anne.headers))
    bobs = slugs(client.get("/api/articles/feed", headers=bob.headers))
    client.get("/api/articles")
    after = hits_and_misses()

    assert (annes, bobs) == ([slug], [])
    assert (after[0] - filled[0], after[1] - filled[1]) == (2, 1)


def test_a_new_article_changes_only_its_authors_followers_feeds(
    client, sign_up, publish, hits_and_misses
):
    jake, anne, bob = sign_up("jake"), sign_up("anne"), sign_up("bob")
    client.post("/api/profiles/jake/follow", headers=anne.headers)
    client.post("/api/profiles/anne/follow", headers=bob.headers)  # bob does not follow jake
    client.get("/api/articles/feed", headers=anne.headers)
    client.get("/api/articles/feed", headers=bob.headers)
    filled = hits_and_misses()

    slug = publish(jake)["slug"]
    annes = slugs(client.get("/api/articles/feed", headers=anne.headers))
    bobs = slugs(client.get("/api/articles/feed", headers=bob.headers))
    after = hits_and_misses()

    assert (annes, bobs) == ([slug], [])
    assert (after[0] - filled[0], after[1] - filled[1]) == (1, 1)  # only anne's feed missed


def test_an_author_with_many_followers_makes_every_feed_stale(
    client, sign_up, publish, hits_and_misses, monkeypatch
):
    monkeypatch.setattr(lists, "FEED_BUMPS", 1)  # jake's two followers are "many"
    jake, anne, bob, carl = sign_up("jake"), sign_up("anne"), sign_up("bob"), sign_up("carl")
    for follower in (anne, bob):
        client.post("/api/profiles/jake/follow", headers=follower.headers)
    for reader in (anne, carl):
        client.get("/api/articles/feed", headers=reader.headers)
    filled = hits_and_misses()

    slug = publish(jake)["slug"]
    feeds = [slugs(client.get("/api/articles/feed", headers=r.headers)) for r in (anne, bob, carl)]
    after = hits_and_misses()

    assert feeds == [[slug], [slug], []]
    assert (after[0] - filled[0], after[1] - filled[1]) == (0, 3)
