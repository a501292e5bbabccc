"""The ``v1`` part of the API: the Conduit resources (profiles, articles, comments, tags)."""

from flask import Blueprint

from imflask_api.errors import register_error_handlers

v1 = Blueprint("v1", __name__)
register_error_handlers(v1)
