"""Articles through HTTP: create, read, update, delete, lists, feed, favorites."""

from __future__ import annotations

import re

import pytest

ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_creating_an_article_returns_201_with_the_whole_article(client, sign_up, publish):
    jake = sign_up("jake")

    response = client.post(
        "/api/articles",
        headers=jake.headers,
        json={
            "article": {
                "title": "How to train your dragon",
                "description": "Ever wonder how?",
                "body": "It takes a Jacobian",
                "tagList": ["training", "dragons"],
            }
        },
    )

    assert response.status_code == 201
    article = response.get_json()["article"]
    assert article["slug"] == "how-to-train-your-dragon"
    assert article["body"] == "It takes a Jacobian"
    assert article["tagList"] == ["dragons", "training"]
    assert article["favorited"] is False
    assert article["favoritesCount"] == 0
    assert article["author"] == {"username": "jake", "bio": None, "image": None, "following": False}
    assert ISO_MS_UTC.match(article["createdAt"])
    assert ISO_MS_UTC.match(article["updatedAt"])


def test_tags_are_trimmed_deduplicated_and_sorted(sign_up, publish):
    article = publish(sign_up(), tagList=[" zeta ", "alpha", "zeta", "Beta"])

    assert article["tagList"] == ["Beta", "alpha", "zeta"]


@pytest.mark.parametrize("tags", [["ok", ""], ["ok", "   "]])
def test_empty_tags_are_rejected(client, sign_up, tags):
    jake = sign_up()

    response = client.post(
        "/api/articles",
        headers=jake.headers,
        json={"article": {"title": "t", "description": "d", "body": "b", "tagList": tags}},
    )

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"tagList": ["can't be blank"]}}


def test_tag_list_may_be_left_out_or_null(sign_up, publish):
    jake = sign_up()

    assert publish(jake, title="a", tagList=None)["tagList"] == []


def test_slugs_keep_letters_of_every_script(sign_up, publish):
    article = publish(sign_up(), title="Привет, Мир! Ça va?")

    assert article["slug"] == "привет-мир-ça-va"


def test_a_second_article_with_the_same_title_gets_another_slug(client, sign_up, publish):
    jake = sign_up()
    first = publish(jake, title="Same title")
    second = publish(jake, title="Same title")

    assert first["slug"] == "same-title"
    assert second["slug"].startswith("same-title-")
    assert client.get(f"/api/articles/{second['slug']}").status_code == 200


def test_reading_an_article_needs_no_token(client, sign_up, publish):
    slug = publish(sign_up())["slug"]

    response = client.get(f"/api/articles/{slug}")

    assert response.status_code == 200
    assert response.get_json()["article"]["body"] == "You have to believe"


def test_an_unknown_slug_is_404(client):
    response = client.get("/api/articles/no-such-article")

    assert response.status_code == 404
    assert response.get_json() == {"errors": {"article": ["not found"]}}


def test_updating_the_title_updates_the_slug(client, sign_up, publish):
    jake = sign_up()
    slug = publish(jake)["slug"]

    response = client.put(
        f"/api/articles/{slug}",
        headers=jake.headers,
        json={"article": {"title": "Did you train your dragon?"}},
    )

    assert response.status_code == 200
    article = response.get_json()["article"]
    assert article["slug"] == "did-you-train-your-dragon"
    assert article["title"] == "Did you train your dragon?"
    assert article["body"] == "You have to believe"
    assert client.get(f"/api/articles/{slug}").status_code == 404
    assert client.get("/api/articles/did-you-train-your-dragon").status_code == 200


def test_updating_the_body_keeps_the_slug_and_moves_updated_at(client, sign_up, publish):
    jake = sign_up()
    created = publish(jake)

    response = client.put(
        f"/api/articles/{created['slug']}",
        headers=jake.headers,
        json={"article": {"body": "New body", "tagList": ["new"]}},
    )

    article = response.get_json()["article"]
    assert article["slug"] == created["slug"]
    assert article["body"] == "New body"
    assert article["tagList"] == ["new"]
    assert article["updatedAt"] >= created["updatedAt"]
    assert article["createdAt"] == created["createdAt"]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_only_the_author_may_change_or_delete_an_article(client, sign_up, publish, method):
    jake, mallory = sign_up("jake"), sign_up("mallory")
    slug = publish(jake)["slug"]

    response = getattr(client, method)(
        f"/api/articles/{slug}", headers=mallory.headers, json={"article": {"title": "pwned"}}
    )

    assert response.status_code == 403
    verb = {"put": "updated", "delete": "deleted"}[method]
    assert response.get_json() == {"errors": {"article": [f"can only be {verb} by its author"]}}
    assert client.get(f"/api/articles/{slug}").get_json()["article"]["title"] != "pwned"


def test_deleting_an_article_is_204_and_it_is_gone(client, sign_up, publish):
    jake = sign_up()
    slug = publish(jake)["slug"]

    response = client.delete(f"/api/articles/{slug}", headers=jake.headers)

    assert response.status_code == 204
    assert response.data == b""
    assert client.get(f"/api/articles/{slug}").status_code == 404
    assert client.get("/api/articles").get_json()["articlesCount"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/articles"),
        ("put", "/api/articles/x"),
        ("delete", "/api/articles/x"),
        ("post", "/api/articles/x/favorite"),
        ("delete", "/api/articles/x/favorite"),
        ("get", "/api/articles/feed"),
    ],
)
def test_writes_and_the_feed_need_a_token(client, method, path):
    response = getattr(client, method)(path, json={"article": {"title": "t"}})

    assert response.status_code == 401
    assert response.get_json() == {"errors": {"token": ["is missing"]}}


@pytest.mark.parametrize(
    ("article", "errors"),
    [
        ({"description": "d", "body": "b"}, {"title": ["can't be blank"]}),
        ({"title": "", "description": "d", "body": "b"}, {"title": ["can't be blank"]}),
        ({"title": "t", "description": "d"}, {"body": ["can't be blank"]}),
        ({"title": 1, "description": "d", "body": "b"}, {"title": ["must be a string"]}),
        ({"title": {"$gt": ""}, "description": "d", "body": "b"}, {"title": ["must be a string"]}),
        ({"title": "t" * 256, "description": "d", "body": "b"},
         {"title": ["is too long (maximum is 255 characters)"]}),
        # the document's maxLength counts the title as sent, before the trim
        ({"title": " " + "t" * 255 + " ", "description": "d", "body": "b"},
         {"title": ["is too long (maximum is 255 characters)"]}),
        ({"title": "t", "description": "d", "body": "b", "tagList": "a,b"},
         {"tagList": ["must be a list"]}),
        ({"title": "t", "description": "d", "body": "b", "tagList": [1]},
         {"tagList": ["must be a string"]}),
        ({"title": "t", "description": "d", "body": "b", "tagList": ["t"] * 21},
         {"tagList": ["has too many items (maximum is 20)"]}),
    ],
)  # fmt: skip
def test_invalid_articles_are_422_naming_the_field(client, sign_up, article, errors):
    jake = sign_up()

    response = client.post("/api/articles", headers=jake.headers, json={"article": article})

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


def test_an_article_without_its_wrapper_is_422(client, sign_up):
    jake = sign_up()

    response = client.post("/api/articles", headers=jake.headers, json={"title": "t"})

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"article": ["is missing"]}}


def test_an_update_with_no_field_is_422(client, sign_up, publish):
    jake = sign_up()
    slug = publish(jake)["slug"]

    response = client.put(f"/api/articles/{slug}", headers=jake.headers, json={"article": {}})

    assert response.status_code == 422


def test_query_syntax_in_fields_is_stored_verbatim(client, sign_up, publish):
    jake = sign_up()
    sneaky = "Robert'); DROP TABLE articles;--"

    article = publish(jake, title=sneaky, body='{"$where": "sleep(1000)"}', tagList=["' OR 1=1"])

    fetched = client.get(f"/api/articles/{article['slug']}").get_json()["article"]
    assert fetched["title"] == sneaky
    assert fetched["body"] == '{"$where": "sleep(1000)"}'
    assert (
        client.get("/api/articles", query_string={"tag": "' OR 1=1"}).get_json()["articlesCount"]
        == 1
    )


@pytest.mark.parametrize(
    "slug",
    ["%00", "x%27%20OR%201%3D1", "..%2F..%2Fetc", "%F0%9F%90%89", "a" * 5000, "%ZZ", "%C0%AF"],
)
def test_odd_slugs_are_404_not_errors(client, slug):
    response = client.get(f"/api/articles/{slug}")

    assert response.status_code == 404


def _titles(response) -> list[str]:
    return [a["title"] for a in response.get_json()["articles"]]


def test_the_list_is_newest_first_without_bodies_and_counts_everything(client, sign_up, publish):
    jake = sign_up()
    for i in range(5):
        publish(jake, title=f"Article {i}")

    response = client.get("/api/articles", query_string={"limit": 2, "offset": 1})

    assert response.status_code == 200
    body = response.get_json()
    assert _titles(response) == ["Article 3", "Article 2"]
    assert body["articlesCount"] == 5
    assert all("body" not in article for article in body["articles"])


def test_the_list_defaults_to_20(client, sign_up, publish):
    jake = sign_up()
    for i in range(21):
        publish(jake, title=f"Article {i}")

    body = client.get("/api/articles").get_json()

    assert len(body["articles"]) == 20
    assert body["articlesCount"] == 21


def test_the_list_filters_by_tag_author_and_favorited(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    publish(jake, title="Jake on dragons", tagList=["dragons"])
    publish(jake, title="Jake on cats", tagList=["cats"])
    publish(anne, title="Anne on dragons", tagList=["dragons"])
    client.post("/api/articles/jake-on-cats/favorite", headers=anne.headers)

    by_tag = client.get("/api/articles?tag=dragons")
    by_author = client.get("/api/articles?author=jake")
    favorited = client.get("/api/articles?favorited=anne")
    combined = client.get("/api/articles?tag=dragons&author=jake")
    nobody = client.get("/api/articles?author=nobody")

    assert _titles(by_tag) == ["Anne on dragons", "Jake on dragons"]
    assert _titles(by_author) == ["Jake on cats", "Jake on dragons"]
    assert _titles(favorited) == ["Jake on cats"]
    assert _titles(combined) == ["Jake on dragons"]
    assert nobody.get_json() == {"articles": [], "articlesCount": 0}
    assert by_tag.get_json()["articlesCount"] == 2


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("limit=0", {"limit": ["must be at least 1"]}),
        ("limit=101", {"limit": ["must be at most 100"]}),
        ("limit=-5", {"limit": ["must be at least 1"]}),
        ("limit=abc", {"limit": ["must be an integer"]}),
        ("limit=1.5", {"limit": ["must be an integer"]}),
        ("offset=-1", {"offset": ["must be at least 0"]}),
        ("offset=ten", {"offset": ["must be an integer"]}),
        ("offset=99999999999999999999999", {"offset": ["must be at most 1000000000"]}),
    ],
)
def test_bad_limits_and_offsets_are_422(client, query, errors):
    response = client.get(f"/api/articles?{query}")

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


def test_bad_limits_are_422_in_the_feed_too(client, sign_up):
    jake = sign_up()

    response = client.get("/api/articles/feed?limit=0", headers=jake.headers)

    assert response.status_code == 422


def test_the_feed_has_only_followed_authors_newest_first(client, sign_up, publish):
    jake, anne, bob = sign_up("jake"), sign_up("anne"), sign_up("bob")
    publish(anne, title="Anne 1")
    publish(bob, title="Bob 1")
    publish(anne, title="Anne 2")
    client.post("/api/profiles/anne/follow", headers=jake.headers)

    response = client.get("/api/articles/feed", headers=jake.headers)

    assert _titles(response) == ["Anne 2", "Anne 1"]
    assert response.get_json()["articlesCount"] == 2
    assert all(a["author"]["following"] for a in response.get_json()["articles"])
    assert "body" not in response.get_json()["articles"][0]


def test_favoriting_counts_each_user_once(client, sign_up, publish):
    jake, anne, bob = sign_up("jake"), sign_up("anne"), sign_up("bob")
    slug = publish(jake)["slug"]

    first = client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)
    again = client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)
    other = client.post(f"/api/articles/{slug}/favorite", headers=bob.headers)

    assert first.status_code == 200
    assert first.get_json()["article"]["favorited"] is True
    assert first.get_json()["article"]["favoritesCount"] == 1
    assert again.get_json()["article"]["favoritesCount"] == 1
    assert other.get_json()["article"]["favoritesCount"] == 2
    anonymous = client.get(f"/api/articles/{slug}").get_json()["article"]
    assert anonymous["favorited"] is False
    assert anonymous["favoritesCount"] == 2


def test_unfavoriting_lowers_the_count(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)

    response = client.delete(f"/api/articles/{slug}/favorite", headers=anne.headers)

    assert response.status_code == 200
    assert response.get_json()["article"]["favorited"] is False
    assert response.get_json()["article"]["favoritesCount"] == 0


def test_favoriting_an_unknown_article_is_404(client, sign_up):
    response = client.post("/api/articles/nope/favorite", headers=sign_up().headers)

    assert response.status_code == 404


def test_list_flags_are_for_the_requesting_user(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    client.post(f"/api/articles/{slug}/favorite", headers=anne.headers)
    client.post("/api/profiles/jake/follow", headers=anne.headers)

    as_anne = client.get("/api/articles", headers=anne.headers).get_json()["articles"][0]
    as_nobody = client.get("/api/articles").get_json()["articles"][0]
    as_jake = client.get("/api/articles", headers=jake.headers).get_json()["articles"][0]

    assert (as_anne["favorited"], as_anne["author"]["following"]) == (True, True)
    assert (as_nobody["favorited"], as_nobody["author"]["following"]) == (False, False)
    assert (as_jake["favorited"], as_jake["author"]["following"]) == (False, False)
    assert as_anne["favoritesCount"] == as_nobody["favoritesCount"] == 1


def test_a_single_article_shows_following_for_the_reader(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    client.post("/api/profiles/jake/follow", headers=anne.headers)

    article = client.get(f"/api/articles/{slug}", headers=anne.headers).get_json()["article"]

    assert article["author"]["following"] is True


def test_the_v1_prefix_serves_the_same_articles(client, sign_up, publish):
    slug = publish(sign_up())["slug"]

    assert (
        client.get(f"/api/v1/articles/{slug}").get_json()
        == client.get(f"/api/articles/{slug}").get_json()
    )
