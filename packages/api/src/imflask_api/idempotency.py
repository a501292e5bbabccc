"""``Idempotency-Key`` on POST: a retried request gets the first answer, not a second write.

A client that lost an answer (a timeout, a dropped connection) sends the same
request again with the same key and gets the first answer back, marked
``Idempotent-Replayed: true``. Keys are scoped to the signed-in user (or to
anonymous callers) and to the method and path, and last 24 hours; the same key
with another body is 422, and a retry while the first request still runs waits
for it and gets its answer. The request's writes and its answer are committed
together (``idempotency.once``). Only the body and status are replayed,
never cookies.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import ParamSpec

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue

from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.openapi import keyed
from imflask_api.security import current_user
from imflask_controllers import idempotency

P = ParamSpec("P")

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the IETF draft's examples


def idempotent(view: Callable[P, ResponseReturnValue]) -> Callable[P, Response]:
    """Honour ``Idempotency-Key`` on this view (after ``auth_required``, if any)."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return current_app.make_response(view(*args, **kwargs))
        if not _VALID_KEY.match(key):
            raise RequestInvalid({HEADER: ["must be 1 to 255 visible ASCII characters"]})
        user = current_user()
        who = f"user:{user.id}" if user is not None else "anonymous"
        scope = _digest(who.encode(), request.method.encode(), request.path.encode(), key.encode())
        fingerprint = _digest(request.get_data())

        answer = idempotency.once(
            context(),
            scope=scope,
            fingerprint=fingerprint,
            run=lambda: current_app.make_response(view(*args, **kwargs)),
            answer_of=lambda response: (response.status_code, response.get_data(as_text=True)),
        )
        if isinstance(answer, idempotency.EarlierAnswer):
            replay = Response(answer.body, status=answer.status, mimetype="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        return answer

    return keyed(wrapper)


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()
