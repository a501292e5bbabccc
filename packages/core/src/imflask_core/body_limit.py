"""FLASK_MAX_CONTENT_LENGTH for every body, however it is framed.

Werkzeug checks a ``Content-Length`` against ``MAX_CONTENT_LENGTH`` before reading,
but a body sent with ``Transfer-Encoding: chunked`` has no length: it reads such a
body up to the limit and then stops, without an error, so the prefix is parsed as if
it were the whole body. Here one byte past the limit is a 413, as the same bytes with
a ``Content-Length`` are.

Answering 413 is not enough for the client to read it: a client that sends its whole
body before reading (Python's http.client, most scripts) gets a broken pipe when the
server stops reading and closes; gunicorn discards only 64 KiB before closing. So after
a 413 is sent, the rest of the body is read and thrown away, within a bound of bytes and
time (as nginx's lingering close does); past it the client sees the connection reset.
"""

from __future__ import annotations

import time
from typing import IO, cast

from flask import Flask, Request, Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

# What may be thrown away after a 413 so that the client reads it (see the docstring).
DISCARD_AT_MOST = 64 * 1024 * 1024
DISCARD_SECONDS = 5.0
_READ = 64 * 1024


def register_body_limit(app: Flask) -> None:
    """Every body over MAX_CONTENT_LENGTH is 413, however framed, and the client reads it."""
    app.request_class = BodyLimitedRequest

    @app.after_request
    def discard_the_rest_after_413(response: Response) -> Response:
        if response.status_code == 413 and isinstance(request, BodyLimitedRequest):
            unread = request.unread_body()
            if unread is not None:
                # After the answer is written: a client that reads early sees it at once.
                response.call_on_close(lambda: _discard(unread))
        return response


def _discard(stream: IO[bytes]) -> None:
    deadline = time.monotonic() + DISCARD_SECONDS
    discarded = 0
    try:
        while discarded < DISCARD_AT_MOST and time.monotonic() < deadline:
            data = stream.read(_READ)
            if not data:
                return
            discarded += len(data)
    except Exception:  # a client gone, a bad chunk (gunicorn's own errors): nothing to answer
        return


class StreamOverLimit(LimitedStream):
    """A body of unknown length, read up to ``limit`` + 1 bytes: that one more byte is 413."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)
        self.max_length = limit

    def readinto(self, b: bytearray) -> int | None:
        read = super().readinto(b)
        if self.tell() > self.max_length:
            raise RequestEntityTooLarge()
        return read


class BodyLimitedRequest(Request):
    """Flask's request, whose streamed (chunked) body is held to ``max_content_length``."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        streamed = self.content_length is None and "wsgi.input_terminated" in self.environ
        if self.shallow or limit is None or not streamed:
            return super().stream
        # A RawIOBase, read as IO[bytes] (werkzeug casts its LimitedStream the same way).
        return cast("IO[bytes]", StreamOverLimit(self.environ["wsgi.input"], limit))

    def unread_body(self) -> IO[bytes] | None:
        """The rest of the body in the server's input, bounded to the body; None when it
        cannot be told where the body ends, or there is more than DISCARD_AT_MOST of it."""
        read = 0
        if "stream" in self.__dict__:  # cached_property's slot: the body was read from
            stream = self.__dict__["stream"]
            if not isinstance(stream, LimitedStream):
                return None
            read = stream.tell()
        server_input: IO[bytes] = self.environ["wsgi.input"]
        if self.content_length is not None:
            left = self.content_length - read
            # werkzeug's dev server hands over the socket itself: never read past the body.
            if not 0 < left <= DISCARD_AT_MOST:
                return None
            return cast("IO[bytes]", LimitedStream(server_input, left))
        if "wsgi.input_terminated" in self.environ:  # chunks: the server ends it at the last
            return server_input
        return None
