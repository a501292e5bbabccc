"""A confirmation after each form that worked: shown once, on the next page, in a
role="status" region, escaped; kept in the signed session cookie until then."""

from __future__ import annotations

import re

import pytest

from imflask_controllers import articles, users

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
STATUS = re.compile(r'<div class="container flash-messages" role="status">(.*?)</div>', re.S)


def csrf_of(client, path: str) -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def status_of(html: str) -> list[str]:
    """The messages of the page's status region (their HTML, as sent)."""
    match = STATUS.search(html)
    return re.findall(r'<p class="flash">(.*?)</p>', match.group(1), re.S) if match else []


def post(client, path: str, form: dict[str, str], token_from: str):
    data = {**form, "csrf_token": csrf_of(client, token_from)}
    response = client.post(path, data=data, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert len(response.history) == 1  # redirected once, after the write
    return response.get_data(as_text=True)


@pytest.fixture
def alice(ctx):
    users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="t"
    )


def signed_in(client) -> None:
    form = {"email": "alice@example.com", "password": PASSWORD}
    post(client, "/login", form, token_from="/login")


def test_sign_up_says_welcome_once(client):
    form = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}

    page = post(client, "/register", form, token_from="/register")

    assert status_of(page) == ["Welcome to Conduit, alice! Your account is ready."]
    assert status_of(client.get("/").get_data(as_text=True)) == []


def test_sign_in_says_who_once_even_after_the_session_is_rotated(client, alice):
    form = {"email": "alice@example.com", "password": PASSWORD}

    page = post(client, "/login", form, token_from="/login")

    assert status_of(page) == ["Signed in as alice."]
    assert status_of(client.get("/").get_data(as_text=True)) == []


def test_saving_settings_says_so_once(client, alice):
    signed_in(client)
    form = {"image": "", "username": "alice", "bio": "I like dragons", "email": "alice@example.com"}

    page = post(client, "/settings", form, token_from="/settings")

    assert status_of(page) == ["Your settings are saved."]
    assert status_of(client.get("/settings").get_data(as_text=True)) == []
    assert "I like dragons" in client.get("/profile/alice").get_data(as_text=True)


def test_publishing_says_so_once_with_the_title_escaped(client, alice):
    signed_in(client)
    title = '<script>alert("x")</script> & <b>co</b>'
    form = {"title": title, "description": "d", "body": "b", "tags": ""}

    page = post(client, "/editor", form, token_from="/editor")

    assert status_of(page) == [
        "Your article “&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;”"
        " is published."
    ]
    assert '<script>alert("x")' not in page
    assert status_of(client.get("/").get_data(as_text=True)) == []


def test_saving_an_edit_says_so_once(client, alice):
    signed_in(client)
    post(client, "/editor", {"title": "Old", "description": "d", "body": "b"}, "/editor")

    page = post(client, "/editor/old", {"title": "New", "description": "d", "body": "b"}, "/")

    assert status_of(page) == ["Your changes to “New” are saved."]
    assert status_of(client.get("/").get_data(as_text=True)) == []


def test_deleting_an_article_says_so_once(client, alice, ctx):
    signed_in(client)
    post(client, "/editor", {"title": "Doomed", "description": "d", "body": "b"}, "/editor")

    page = post(client, "/article/doomed/delete", {}, token_from="/article/doomed")

    assert status_of(page) == ["Your article was deleted."]
    assert articles.list_articles(ctx, viewer=None).total == 0
    assert status_of(client.get("/").get_data(as_text=True)) == []


def test_an_error_page_leaves_the_confirmation_for_the_next_page(client, alice):
    # given a sign-in whose redirect was not followed
    token = csrf_of(client, "/login")
    form = {"email": "alice@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302

    # when an error page comes first, then it shows nothing; the next page shows it once
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert status_of(missing.get_data(as_text=True)) == []
    assert status_of(client.get("/").get_data(as_text=True)) == ["Signed in as alice."]
    assert status_of(client.get("/").get_data(as_text=True)) == []
