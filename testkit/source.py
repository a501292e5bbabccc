"""Parse Python source for the tests that read our own code (architecture checks).

CPython 3.11's AST builder is not thread-safe (python/cpython#106905); the
test process serialises every ``ast.parse`` for that (``testkit/ast_guard.py``,
a plugin of the root ``conftest.py``), so one parse is enough here.
"""

from __future__ import annotations

import ast


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    return ast.parse(source, filename)
