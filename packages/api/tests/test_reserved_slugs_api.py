"""Route words are never slugs: /api/articles/feed is the feed, so an article titled
"Feed" gets a slug of its own, readable at every URL a slug stands in."""

from __future__ import annotations

import re

from imflask_controllers import slugs

SLUG_VARIABLE = re.compile(r"<(?:[^<>:]+:)?slug>")


def route_words(app) -> set[str]:
    """The static segments of the URL map that stand where a slug stands in another rule:
    ``feed`` in /api/articles/feed beside /api/articles/<slug>."""
    rules = [rule.rule for rule in app.url_map.iter_rules()]
    before_slug = {SLUG_VARIABLE.split(rule)[0] for rule in rules if SLUG_VARIABLE.search(rule)}
    words = set()
    for rule in rules:
        for prefix in before_slug:
            if rule.startswith(prefix):
                segment = rule[len(prefix) :].split("/")[0]
                if segment and "<" not in segment:
                    words.add(segment)
    return words


def test_every_route_word_where_a_slug_stands_is_reserved(app):
    words = route_words(app)

    assert "feed" in words  # found by reading the URL map, not by hand
    assert words <= slugs.ROUTE_WORDS, f"reserve {sorted(words - slugs.ROUTE_WORDS)} in slugs.py"
    for word in words:
        for title in (word, word.upper(), f"  {word.title()}!  "):
            assert slugs.slugify(title) not in words, title


def test_an_article_titled_feed_gets_another_slug_and_is_readable(client, sign_up, publish):
    jake = sign_up("jake")

    article = publish(jake, title="Feed")

    assert article["slug"] not in route_words(client.application)
    read = client.get(f"/api/articles/{article['slug']}")
    assert read.status_code == 200
    assert read.get_json()["article"]["title"] == "Feed"
    assert client.get(f"/article/{article['slug']}").status_code == 200
    feed = client.get("/api/articles/feed", headers=jake.headers)
    assert feed.status_code == 200
    assert "articles" in feed.get_json()


def test_retitling_an_article_to_feed_keeps_it_readable(client, sign_up, publish):
    jake = sign_up("jake")
    article = publish(jake, title="Something else")

    response = client.put(
        f"/api/articles/{article['slug']}",
        headers=jake.headers,
        json={"article": {"title": "FEED"}},
    )

    assert response.status_code == 200
    slug = response.get_json()["article"]["slug"]
    assert slug not in route_words(client.application)
    assert client.get(f"/api/articles/{slug}").get_json()["article"]["title"] == "FEED"


def test_a_new_route_word_beside_a_slug_is_found():
    from flask import Flask

    app = Flask(__name__)
    for rule in ("/api/articles/<slug>", "/api/articles/trending", "/editor/<slug>"):
        app.add_url_rule(rule, rule, lambda **_: "")
    app.add_url_rule("/editor/new", "new", lambda: "")

    assert route_words(app) == {"trending", "new"}
