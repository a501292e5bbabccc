"""The real app behind a test-only wrapper, for gunicorn's signal tests; never shipped.

- ``X-Test-Delay: SECONDS`` (at most 5) holds a request that long before the app answers it,
  so a test can keep requests in flight and the accept queue full.
- Every response says which process answered (``X-Test-Worker``), so a test sees a reload.
- If the file named by ``IMFLASK_TEST_IMPORT_DELAY_FILE`` exists, importing this module first
  sleeps the seconds written in it: a stand-in for a worker that needs seconds to import the
  app, as on a loaded production machine (8.5 s was measured there).
"""

import os
import time
from pathlib import Path

_delay_file = os.environ.get("IMFLASK_TEST_IMPORT_DELAY_FILE")
if _delay_file and Path(_delay_file).exists():
    time.sleep(float(Path(_delay_file).read_text()))

from imflask_app.wsgi import app as imflask_app  # noqa: E402 - after the import delay


def app(environ, start_response):
    time.sleep(min(float(environ.get("HTTP_X_TEST_DELAY", "0")), 5.0))

    def start_response_naming_the_worker(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Test-Worker", str(os.getpid()))], exc_info)

    return imflask_app(environ, start_response_naming_the_worker)
