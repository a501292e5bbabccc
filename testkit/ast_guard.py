"""One ``ast.parse`` at a time in the test process, on CPython 3.11 (a pytest plugin).

CPython 3.11 keeps its AST builder's recursion state per interpreter, not per
thread (python/cpython#106905, fixed in 3.12): two ``ast.parse`` calls that
overlap in two threads can fail with a spurious ``SystemError: AST constructor
recursion depth mismatch``. The tests run app threads (servers, relays) beside
the test's own thread, and both parse: 3.11's ``traceback`` parses each line
it underlines when a thread logs an exception, and werkzeug compiles each URL
rule with ``ast.parse`` when a test builds an app. A CI run failed once that
way in an app's setup. Holding one lock around every ``ast.parse`` of this
process takes the overlap away; each call is microseconds, and a thread never
waits for anything else while it holds it.
"""

from __future__ import annotations

import ast
import sys
import threading

_lock = threading.RLock()
_parse = ast.parse


def parse(*args, **kwargs):  # same signature as ast.parse
    with _lock:
        return _parse(*args, **kwargs)


if sys.version_info < (3, 12):
    ast.parse = parse
