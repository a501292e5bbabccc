"""What every page's head loads: the minified stylesheet (rcssmin's output of conduit.css),
the two preloaded font faces with size-adjusted fallbacks, and a meta description."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from imflask_app.web.templating import summary
from imflask_controllers import articles, users
from tools import build_assets

PASSWORD = "correct horse battery"
STATIC = Path(build_assets.STATIC)
DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')
PRELOAD = re.compile(r'<link rel="preload" href="([^"]+)" as="font" type="font/woff2" crossorigin>')
DEFAULT = "Conduit, a place to share your knowledge: articles by its writers, by tag and by feed."


def test_a_summary_is_one_line_cut_at_a_word_or_the_sites_sentence():
    assert summary("  two\n lines ") == "two lines"
    assert summary(None) == summary("   ") == DEFAULT
    assert summary("x" * 200) == "x" * 157 + "..."
    assert summary("ab " * 100) == ("ab " * 52).strip() + "..."


def description_of(response) -> str:
    found = DESCRIPTION.findall(response.get_data(as_text=True))
    assert len(found) == 1, found
    return html.unescape(found[0])


def test_the_shipped_stylesheet_is_the_minifiers_output_of_conduit_css():
    source = (STATIC / "conduit.css").read_text()

    shipped = (STATIC / "conduit.min.css").read_text()

    assert shipped == build_assets.minified(source), (
        "conduit.min.css is stale: run `uv run python tools/build_assets.py`"
    )
    assert len(shipped) < len(source)


def test_pages_link_the_minified_stylesheet_and_preload_the_two_faces_above_the_fold(client):
    page = client.get("/").get_data(as_text=True)

    assert '<link rel="stylesheet" href="/static/conduit.min.css">' in page
    assert 'href="/static/conduit.css"' not in page
    preloaded = PRELOAD.findall(page)
    assert preloaded == [
        "/static/fonts/titillium-web-latin-700-normal.woff2",
        "/static/fonts/source-sans-3-latin-400-normal.woff2",
    ]
    css = (STATIC / "conduit.min.css").read_text()
    for href in preloaded:  # the very URLs the stylesheet asks for, or the preload is wasted
        assert f'url("{href.removeprefix("/static/")}")' in css
        assert client.get(href).status_code == 200


def test_every_web_font_face_is_optional_and_each_family_has_a_size_adjusted_fallback():
    css = (STATIC / "conduit.css").read_text()
    faces = re.findall(r"@font-face \{(.*?)\}", css, re.S)
    web = [face for face in faces if "url(" in face]
    fallbacks = [face for face in faces if "local(" in face]

    assert len(web) == 8
    assert all("font-display: optional" in face for face in web)
    for family in ("Titillium Web", "Source Sans 3", "Source Serif 4"):
        assert any(f'"{family} fallback"' in face for face in fallbacks), family
        assert re.search(rf'"{family}", "{family} fallback"', css), family
    for face in fallbacks:
        for descriptor in ("size-adjust", "ascent-override", "descent-override"):
            assert re.search(rf"{descriptor}: \d+\.\d\d%", face), (descriptor, face)


@pytest.fixture
def alice(ctx):
    return users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="t"
    )


def test_an_article_page_is_described_by_the_articles_description_escaped(client, ctx, alice):
    article = articles.create_article(
        ctx,
        author=alice,
        title="Dragons",
        description='How to train "dragons" <b>& keep</b> them',
        body="b",
        tags=[],
    )

    page = client.get(f"/article/{article.slug}")

    assert description_of(page) == 'How to train "dragons" <b>& keep</b> them'
    assert "&#34;dragons&#34; &lt;b&gt;&amp; keep&lt;/b&gt;" in page.get_data(as_text=True)


def test_a_profile_is_described_by_the_bio_or_a_sentence_about_its_writer(client, ctx, alice):
    users.register_user(
        ctx, username="bob", email="bob@example.com", password=PASSWORD, client_ip="t"
    )
    users.update_user(
        ctx,
        user=users.user_by_id(ctx, alice.id),
        token=alice.token,
        changes={"bio": "I train dragons.\nAnd <cats>."},
    )

    assert description_of(client.get("/profile/alice")) == "I train dragons. And <cats>."
    assert description_of(client.get("/profile/bob")) == "Articles by bob on Conduit."
    assert description_of(client.get("/profile/bob/favorites")) == "Articles by bob on Conduit."


def test_other_pages_have_a_sensible_description(client):
    assert description_of(client.get("/")) == DEFAULT
    assert description_of(client.get("/?tag=dragons")) == "Articles tagged dragons on Conduit."
    assert description_of(client.get("/login")) == DEFAULT
    assert description_of(client.get("/nowhere")) == DEFAULT


def test_a_long_description_is_cut_at_a_word_to_fit_a_search_result(client, ctx, alice):
    article = articles.create_article(
        ctx, author=alice, title="Long", description="dragon & " * 40, body="b", tags=[]
    )

    described = description_of(client.get(f"/article/{article.slug}"))

    assert described.startswith("dragon & dragon & ")
    assert described.endswith(" &...")
    assert len(described) <= 160
