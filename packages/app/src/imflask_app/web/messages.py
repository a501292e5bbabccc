"""The confirmations a page shows once after a form worked.

Flask's ``flash``: the message waits in the signed session cookie (after
``sign_in``, which empties the session, so it survives the rotation) until the
next page shows it in ``base.html``'s ``role="status"`` region, escaped like
every value, and takes it out of the session.
"""

from __future__ import annotations

from flask import flash


def signed_up(username: str) -> None:
    flash(f"Welcome to Conduit, {username}! Your account is ready.")


def signed_in(username: str) -> None:
    flash(f"Signed in as {username}.")


def settings_saved() -> None:
    flash("Your settings are saved.")


def article_published(title: str) -> None:
    flash(f"Your article “{title}” is published.")


def article_updated(title: str) -> None:
    flash(f"Your changes to “{title}” are saved.")


def article_deleted() -> None:
    flash("Your article was deleted.")
