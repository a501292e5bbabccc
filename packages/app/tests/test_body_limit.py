"""FLASK_MAX_CONTENT_LENGTH holds however a body is framed: a length, or chunks.

Over real HTTP (werkzeug's server here, gunicorn in ``test_gunicorn.py``): the test
client builds the WSGI environ itself and never frames a body in chunks.
"""

from __future__ import annotations

from testkit.bodies import post_body, registration

LIMIT = 1024 * 1024  # the testing default of FLASK_MAX_CONTENT_LENGTH


def test_a_chunked_body_over_the_limit_is_413_and_not_applied(app, serve):
    # given a valid registration padded with spaces to three times the limit
    base_url = serve(app)
    body = registration("chunky", size=3 * LIMIT)

    # when it is sent in chunks
    status, answer = post_body(base_url, "/api/users", body, chunked=True)

    # then it is refused whole, as the same bytes with a Content-Length are
    assert (status, answer) == (
        413,
        {"errors": {"body": [f"is too large (maximum is {LIMIT} bytes)"]}},
    )
    assert post_body(base_url, "/api/users", body, chunked=False)[0] == 413
    assert app.test_client().get("/api/profiles/chunky").status_code == 404


def test_a_chunked_body_of_exactly_the_limit_is_read_whole(app, serve):
    base_url = serve(app)

    at_limit, _ = post_body(base_url, "/api/users", registration("exact", size=LIMIT), chunked=True)
    one_more, _ = post_body(
        base_url, "/api/users", registration("onemore", size=LIMIT + 1), chunked=True
    )

    assert (at_limit, one_more) == (201, 413)


def test_a_chunked_form_over_the_limit_is_a_413_page(app, serve):
    base_url = serve(app)
    form = b"email=a%40b.test&password=" + b"x" * (2 * LIMIT)

    status, page = post_body(
        base_url, "/login", form, chunked=True, content_type="application/x-www-form-urlencoded"
    )

    assert status == 413
    assert "Too large" in page
