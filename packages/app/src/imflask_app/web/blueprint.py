"""The ``web`` blueprint every page module adds its views to.

Templates and static files are the app's own (``imflask_app/templates`` and
``imflask_app/static``, Flask's defaults for the app's package).
"""

from __future__ import annotations

from flask import Blueprint

web = Blueprint("web", __name__)
