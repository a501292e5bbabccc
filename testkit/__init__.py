"""Test-only helpers for the fault suite: server processes on free ports and bounded load.

Never imported by the packages; pytest puts the repository root on ``sys.path``
(``pythonpath`` in ``pyproject.toml``).
"""
