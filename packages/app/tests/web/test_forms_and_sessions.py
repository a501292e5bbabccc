"""The pages through Flask's test client (no browser): CSRF, sessions, form errors,
error pages, redirects."""

from __future__ import annotations

import re

import pytest

from imflask_controllers import articles, comments, users

PASSWORD = "correct horse battery"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client, path: str = "/login") -> str:
    match = TOKEN.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def register(ctx, username: str):
    user = users.register_user(
        ctx, username=username, email=f"{username}@example.com", password=PASSWORD, client_ip="test"
    )
    return users.user_by_id(ctx, user.id)


def sign_in(client, username: str):
    return client.post(
        "/login",
        data={
            "email": f"{username}@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_of(client),
        },
    )


def session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


@pytest.fixture
def alice(ctx):
    return register(ctx, "alice")


@pytest.fixture
def dragons(ctx, alice):
    return articles.create_article(
        ctx, author=alice, title="Dragons", description="d", body="b", tags=["dragons"]
    )


# CSRF


def state_changing_forms(slug: str, comment_id: int) -> list[tuple[str, dict]]:
    return [
        ("/register", {"username": "eve", "email": "eve@example.com", "password": PASSWORD}),
        ("/login", {"email": "alice@example.com", "password": PASSWORD}),
        ("/logout", {}),
        ("/settings", {"username": "renamed", "email": "alice@example.com"}),
        ("/editor", {"title": "New", "description": "d", "body": "b"}),
        (f"/editor/{slug}", {"title": "Changed", "description": "d", "body": "b"}),
        (f"/article/{slug}/delete", {}),
        (f"/article/{slug}/favorite", {}),
        (f"/article/{slug}/comments", {"body": "hello"}),
        (f"/article/{slug}/comments/{comment_id}/delete", {}),
        ("/profile/bob/follow", {}),
    ]


@pytest.mark.parametrize("token", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
def test_every_form_without_the_right_csrf_token_is_refused_and_changes_nothing(
    client, ctx, alice, dragons, token
):
    bob = register(ctx, "bob")
    comment = comments.add_comment(ctx, slug=dragons.slug, author=alice, body="mine")
    sign_in(client, "alice")
    signed_in = session_of(client)

    for path, form in state_changing_forms(dragons.slug, comment.id):
        data = form if token is None else {**form, "csrf_token": token}
        response = client.post(path, data=data)
        assert response.status_code == 400, path
        assert "text/html" in response.content_type
        assert "did not come from this site" in response.get_data(as_text=True)

    assert session_of(client) == signed_in  # still alice, same session
    assert users.user_by_id(ctx, alice.id).username == "alice"
    assert users.user_by_id(ctx, bob.id) is not None
    page = articles.list_articles(ctx, viewer=bob)
    assert [(a.title, a.favorites_count) for a in page.articles] == [("Dragons", 0)]
    assert [c.body for c in comments.list_comments(ctx, slug=dragons.slug, viewer=None)] == ["mine"]
    assert not articles.feed(ctx, viewer=alice).articles  # alice follows nobody


def test_the_csrf_token_is_accepted_from_the_fetch_header(client, alice, dragons):
    sign_in(client, "alice")
    token = csrf_of(client, f"/article/{dragons.slug}")

    response = client.post(
        f"/article/{dragons.slug}/favorite",
        headers={"X-CSRF-Token": token, "X-Requested-With": "fetch"},
    )

    assert response.status_code == 200
    assert response.get_json() == {"favorited": True, "favoritesCount": 1}


# Sessions


def test_signing_in_rotates_the_session_and_the_old_token_stops_working(client, alice):
    before = csrf_of(client)

    response = sign_in(client, "alice")

    assert response.status_code == 302
    session = session_of(client)
    assert session["uid"] == alice.id
    assert session["csrf"] != before
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400


def test_signing_out_empties_the_session_and_gives_a_new_token(client, alice):
    sign_in(client, "alice")
    token = session_of(client)["csrf"]

    response = client.post("/logout", data={"csrf_token": token})

    assert response.status_code == 302
    session = session_of(client)
    assert "uid" not in session
    assert session["csrf"] != token
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_a_copy_of_the_cookie_taken_before_signing_out_is_refused(app, alice):
    here, thief = app.test_client(), app.test_client()
    sign_in(here, "alice")
    thief.set_cookie("session", here.get_cookie("session").value)
    assert thief.get("/settings").status_code == 200

    here.post("/logout", data={"csrf_token": session_of(here)["csrf"]})

    assert thief.get("/settings").status_code == 302
    assert "uid" not in session_of(thief)
    sign_in(here, "alice")  # a new session of the same user is a new id
    assert here.get("/settings").status_code == 200


def test_without_redis_signing_out_still_ends_this_browsers_session(make_app, ctx, alice):
    client = make_app(
        redis_url="redis://127.0.0.1:1/0",
        store_connect_timeout=0.3,
        store_read_timeout=0.3,
        secret_key=ctx.settings.secret_key,
    ).test_client()
    sign_in(client, "alice")
    assert client.get("/settings").status_code == 200

    response = client.post("/logout", data={"csrf_token": session_of(client)["csrf"]})

    assert response.status_code == 302
    assert client.get("/settings").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite_lax(client, alice):
    response = sign_in(client, "alice")

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_a_new_password_signs_out_every_other_browser(app, alice):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "alice")
    sign_in(elsewhere, "alice")

    response = here.post(
        "/settings",
        data={
            "username": "alice",
            "email": "alice@example.com",
            "password": "a brand new password",
            "current_password": PASSWORD,
            "csrf_token": session_of(here)["csrf"],
        },
    )

    assert response.status_code == 302
    assert here.get("/settings").status_code == 200
    assert elsewhere.get("/settings").status_code == 302
    assert "uid" not in session_of(elsewhere)


def save_settings(client, **fields: str):
    """Alice's settings form, signed in, with ``fields`` over what it shows."""
    sign_in(client, "alice")
    form = {"username": "alice", "email": "alice@example.com", **fields}
    return client.post("/settings", data={**form, "csrf_token": session_of(client)["csrf"]})


@pytest.mark.parametrize(
    ("change", "current", "message"),
    [
        ({"password": "a brand new password"}, "", "Current password can&#39;t be blank"),
        ({"password": "a brand new password"}, "not my password", "Current password is wrong"),
        ({"email": "alice@elsewhere.test"}, "", "Current password can&#39;t be blank"),
        ({"email": "alice@elsewhere.test"}, "not my password", "Current password is wrong"),
    ],
)
def test_a_new_email_or_password_from_the_pages_needs_the_current_password(
    client, ctx, alice, change, current, message
):
    response = save_settings(client, **change, current_password=current)

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert users.user_by_id(ctx, alice.id).email == "alice@example.com"
    assert users.log_in(ctx, email="alice@example.com", password=PASSWORD, client_ip="test")


def test_a_new_email_from_the_pages_with_the_current_password_is_saved(client, ctx, alice):
    response = save_settings(client, email="alice@elsewhere.test", current_password=PASSWORD)

    assert response.status_code == 302
    assert users.user_by_id(ctx, alice.id).email == "alice@elsewhere.test"


def test_a_bio_change_from_the_pages_needs_no_current_password(client, ctx, alice):
    response = save_settings(client, email="ALICE@example.com", bio="I like dragons")

    assert response.status_code == 302
    assert users.user_by_id(ctx, alice.id).bio == "I like dragons"


def test_a_signed_out_visitor_is_sent_to_sign_in_and_then_back(client, alice):
    response = client.get("/editor")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/editor"
    page = client.get("/login?next=/editor").get_data(as_text=True)
    assert 'name="next" value="/editor"' in page
    back = client.post(
        "/login",
        data={
            "email": "alice@example.com",
            "password": PASSWORD,
            "next": "/editor",
            "csrf_token": csrf_of(client),
        },
    )
    assert back.headers["Location"] == "/editor"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example"])
def test_sign_in_never_redirects_to_another_site(client, alice, target):
    response = client.post(
        "/login",
        data={
            "email": "alice@example.com",
            "password": PASSWORD,
            "next": target,
            "csrf_token": csrf_of(client),
        },
    )

    assert response.headers["Location"] == "/"


# Form errors


def test_sign_up_errors_are_shown_next_to_the_fields_with_the_input_kept(client):
    response = client.post(
        "/register",
        data={
            "username": "new<b>name",
            "email": "not-an-email",
            "password": "short",
            "csrf_token": csrf_of(client),
        },
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="new&lt;b&gt;name"' in html
    assert 'value="not-an-email"' in html
    assert "short" not in html.replace("is too short", "")  # the password is never echoed
    assert '<ul class="field-errors" id="errors-email">' in html
    assert "Email is invalid" in html
    assert "Password is too short (minimum is 8 characters)" in html
    assert "Username may only contain letters" in html


def test_a_taken_username_is_shown_next_to_the_username(client, alice):
    response = client.post(
        "/register",
        data={
            "username": "alice",
            "email": "other@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_of(client),
        },
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="errors-username">\s*<li>Username has already been taken</li>', html)


def test_wrong_credentials_keep_the_email_and_say_so(client, alice):
    response = client.post(
        "/login",
        data={
            "email": "alice@example.com",
            "password": "wrong password",
            "csrf_token": csrf_of(client),
        },
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Email or password is invalid" in html
    assert 'value="alice@example.com"' in html
    assert "uid" not in session_of(client)


def test_an_empty_title_re_renders_the_editor_with_the_input(client, ctx, alice):
    sign_in(client, "alice")

    response = client.post(
        "/editor",
        data={
            "title": "  ",
            "description": "kept",
            "body": "kept body",
            "tags": "x, y",
            "csrf_token": session_of(client)["csrf"],
        },
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Title can&#39;t be blank" in html
    assert 'value="kept"' in html
    assert ">kept body</textarea>" in html
    assert 'value="x, y"' in html
    assert articles.list_articles(ctx, viewer=None).total == 0


def test_an_empty_comment_shows_the_article_with_the_error(client, ctx, alice, dragons):
    sign_in(client, "alice")

    response = client.post(
        f"/article/{dragons.slug}/comments",
        data={"body": "", "csrf_token": session_of(client)["csrf"]},
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Comment can&#39;t be blank" in html
    assert "<h1>Dragons</h1>" in html


# Error pages


def test_someone_elses_article_cannot_be_edited_or_deleted(client, ctx, dragons):
    register(ctx, "bob")
    sign_in(client, "bob")
    token = session_of(client)["csrf"]

    edit = client.get(f"/editor/{dragons.slug}")
    delete = client.post(f"/article/{dragons.slug}/delete", data={"csrf_token": token})

    assert edit.status_code == 403
    assert delete.status_code == 403
    assert "can only be deleted by its author" in delete.get_data(as_text=True)
    assert articles.get_article(ctx, slug=dragons.slug, viewer=None).title == "Dragons"


def test_following_yourself_is_an_error_page(client, alice):
    sign_in(client, "alice")

    response = client.post("/profile/alice/follow", data={"csrf_token": session_of(client)["csrf"]})

    assert response.status_code == 422
    assert "you cannot follow yourself" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/article/nope", "/profile/nobody", "/profile/nobody/favorites", "/nowhere"]
)
def test_unknown_pages_are_html_404s(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.content_type.startswith("text/html")
    assert '<h1 class="logo-font">404</h1>' in response.get_data(as_text=True)


def test_a_wrong_method_is_an_html_page_on_the_site_and_json_under_api(client):
    page = client.post("/")
    api = client.post("/api/tags")

    assert page.status_code == 405
    assert page.mimetype == "text/html"
    assert "Method not allowed" in page.get_data(as_text=True)
    assert "GET" in page.headers["Allow"]
    assert api.status_code == 405
    assert api.get_json() == {"errors": {"method": ["is not allowed here"]}}
    assert "GET" in api.headers["Allow"]


def test_unknown_api_paths_stay_json(client):
    response = client.get("/api/nowhere")

    assert response.status_code == 404
    assert response.get_json() == {"errors": {"path": ["was not found"]}}


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/")

    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_bad_page_number_is_the_first_page(client, dragons):
    for page in ["0", "-3", "abc", "²", "9" * 40]:
        response = client.get(f"/?page={page}")
        assert response.status_code == 200
        assert "Dragons" in response.get_data(as_text=True)


def test_your_feed_needs_you_to_sign_in(client):
    response = client.get("/?feed=yours")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/?feed%3Dyours"
