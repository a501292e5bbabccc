"""Parse Python source for the tests that read our own code (architecture checks).

CPython 3.11 keeps the state of its AST builder per interpreter, not per
thread (python/cpython#106905), so an ``ast.parse`` in the test's thread that
overlaps one in another thread (3.11's ``traceback`` parses each line it
underlines: any app thread logging an exception) can fail with a spurious
``SystemError: AST constructor recursion depth mismatch``. The source did
not change, so parsing it again is the answer; a real syntax error is still
a ``SyntaxError`` at once.
"""

from __future__ import annotations

import ast

ATTEMPTS = 3


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    for attempt in range(ATTEMPTS):
        try:
            return ast.parse(source, filename)
        except SystemError:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
