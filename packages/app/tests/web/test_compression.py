"""Text answers are compressed for clients that ask (gzip, br), nothing else is, and the
CSRF token in a compressed page is masked afresh each time (BREACH)."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest

from imflask_controllers import articles, users

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def alice(ctx):
    return users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="t"
    )


@pytest.fixture
def dragons(ctx, alice):
    return articles.create_article(
        ctx, author=alice, title="Dragons", description="d", body="b " * 2000, tags=["dragons"]
    )


def session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def _without_tokens(html: bytes) -> bytes:
    return TOKEN.sub('name="csrf_token" value=""', html.decode()).encode()


def test_a_page_asked_for_with_gzip_comes_gzipped_with_vary(client, dragons):
    plain = client.get(f"/article/{dragons.slug}")

    zipped = client.get(f"/article/{dragons.slug}", headers={"Accept-Encoding": "gzip"})

    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    body = gzip.decompress(zipped.get_data())
    assert _without_tokens(body) == _without_tokens(plain.get_data())
    assert int(zipped.headers["Content-Length"]) == len(zipped.get_data()) < len(body) / 4


def test_a_page_asked_for_without_accept_encoding_comes_plain_with_vary(client, dragons):
    response = client.get(f"/article/{dragons.slug}")

    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["Vary"]
    assert b"<h1>Dragons</h1>" in response.get_data()


def test_brotli_is_preferred_when_the_client_takes_both(client, dragons):
    response = client.get(f"/article/{dragons.slug}", headers={"Accept-Encoding": "gzip, br"})

    assert response.headers["Content-Encoding"] == "br"
    assert b"<h1>Dragons</h1>" in brotli.decompress(response.get_data())


def test_identity_only_gets_the_page_plain(client, dragons):
    response = client.get(f"/article/{dragons.slug}", headers={"Accept-Encoding": "identity"})

    assert "Content-Encoding" not in response.headers


@pytest.mark.parametrize("path", ["/static/conduit.min.css", "/static/conduit.js"])
def test_static_text_is_compressed_with_its_own_etag_and_revalidates(client, path):
    plain = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    # a different representation, a different validator; and it still revalidates
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert zipped.headers["ETag"].endswith(':gzip"')
    again = client.get(
        path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
    )
    assert again.status_code == 304
    assert not again.get_data()


def test_fonts_and_small_answers_are_never_compressed(client):
    font = client.get(
        "/static/fonts/source-sans-3-latin-400-normal.woff2", headers={"Accept-Encoding": "gzip"}
    )
    health = client.get("/healthz", headers={"Accept-Encoding": "gzip, br"})

    assert font.status_code == 200
    assert font.mimetype == "font/woff2"
    assert "Content-Encoding" not in font.headers
    assert font.get_data()[:4] == b"wOF2"
    assert health.status_code == 200
    assert len(health.get_data()) < 500
    assert "Content-Encoding" not in health.headers


def test_api_json_is_compressed_too(client, ctx, alice, dragons):
    for n in range(5):
        articles.create_article(
            ctx, author=alice, title=f"More {n}", description="d", body="b", tags=[]
        )

    response = client.get("/api/articles", headers={"Accept-Encoding": "gzip"})

    assert response.headers["Content-Encoding"] == "gzip"
    assert b'"title":"Dragons"' in gzip.decompress(response.get_data())


def test_every_page_masks_the_csrf_token_afresh_and_each_mask_is_accepted(client, ctx):
    # given alice signed in, and bob
    for name in ("alice", "bob"):
        users.register_user(
            ctx, username=name, email=f"{name}@example.com", password=PASSWORD, client_ip="t"
        )
    login = TOKEN.search(client.get("/login").get_data(as_text=True))
    assert login
    form = {"email": "alice@example.com", "password": PASSWORD, "csrf_token": login.group(1)}
    assert client.post("/login", data=form).status_code == 302

    # when she loads her settings twice
    first, second = (TOKEN.search(client.get("/settings").get_data(as_text=True)) for _ in range(2))

    # then the two pages carry different bytes for the token, and each one is accepted
    assert first
    assert second
    assert first.group(1) != second.group(1)
    assert session_of(client)["csrf"] not in first.group(1)
    follow = client.post("/profile/bob/follow", data={"csrf_token": first.group(1)})
    assert follow.status_code == 302
    assert client.post("/logout", data={"csrf_token": second.group(1)}).status_code == 302
    assert "uid" not in session_of(client)


def test_an_empty_answer_stays_empty_whatever_the_client_takes(client):
    # a 204 (signing out of the API) has no body: an encoder would still write a few bytes
    response = client.post("/api/auth/logout", headers={"Accept-Encoding": "br, gzip"})

    assert response.status_code == 204
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == b""
