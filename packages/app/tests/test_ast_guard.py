"""testkit/ast_guard.py: the test process parses Python one call at a time on 3.11."""

from __future__ import annotations

import ast
import sys
import threading

import pytest

from testkit import ast_guard


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 keeps the AST state per thread")
def test_a_parse_in_another_thread_waits_for_the_one_holding_the_lock():
    assert ast.parse is ast_guard.parse  # werkzeug's and traceback's ast.parse
    done = threading.Event()
    thread = threading.Thread(target=lambda: (ast.parse("x = 1"), done.set()))
    with ast_guard._lock:  # as if this thread were parsing
        thread.start()
        assert not done.wait(0.2)
    assert done.wait(5)
    thread.join()
