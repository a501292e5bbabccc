"""A page whose use case fails answers an HTML error page, never a traceback: 500 for an
unhandled error (logged, so error reporting sees it), 503 with Retry-After for a store."""

from __future__ import annotations

import logging

import pytest

from imflask_controllers import pages
from imflask_core.errors import StoreUnavailable, TransactionConflict


def failing_home(error: Exception):
    def home_page(ctx, **kwargs):
        raise error

    return home_page


def test_an_unhandled_error_on_a_page_is_a_logged_500_page(client, monkeypatch, caplog):
    monkeypatch.setattr(pages, "home_page", failing_home(RuntimeError("the home page broke")))

    with caplog.at_level(logging.ERROR, logger="imflask"):
        answer = client.get("/")

    assert answer.status_code == 500
    assert answer.mimetype == "text/html"
    assert "The error was logged; please try again." in answer.get_data(as_text=True)
    assert "the home page broke" not in answer.get_data(as_text=True)
    (record,) = [r for r in caplog.records if r.getMessage() == "unhandled error on a page: GET /"]
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "the home page broke"


@pytest.mark.parametrize(
    ("error", "message", "retry_after"),
    [
        (StoreUnavailable("mysql", "down"), "A service this page needs is not answering.", "5"),
        (TransactionConflict("deadlock"), "Too many changes at once. Please try again.", "1"),
    ],
)
def test_a_store_that_fails_a_page_is_a_503_page_with_retry_after(
    client, monkeypatch, error, message, retry_after
):
    monkeypatch.setattr(pages, "home_page", failing_home(error))

    answer = client.get("/")

    assert answer.status_code == 503
    assert answer.mimetype == "text/html"
    assert answer.headers["Retry-After"] == retry_after
    assert message in answer.get_data(as_text=True)
