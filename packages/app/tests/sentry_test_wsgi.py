"""The real app with one use case broken, for the error reporting tests; never shipped.

``PUT /api/user`` reaches ``sessions.update_account``, which here raises ``RuntimeError``:
an unhandled error deep in a request, with the request's token and new password among
the locals of the frames between the view and the raise.
"""

from imflask_controllers import sessions


def broken_update_account(ctx, *, user, token, changes):
    raise RuntimeError(f"update_account broke for user {user.id}")


sessions.update_account = broken_update_account

from imflask_app.wsgi import app  # noqa: E402 - after the use case is broken

__all__ = ["app"]
