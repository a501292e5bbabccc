"""The ``v1`` part of the API: the Conduit resources (profiles, articles, comments, tags)."""

from flask import Blueprint

from imflask_api.errors import register_error_handlers
from imflask_api.v1.articles import articles
from imflask_api.v1.comments import comments
from imflask_api.v1.notifications import notifications
from imflask_api.v1.profiles import profiles
from imflask_api.v1.tags import tags

v1 = Blueprint("v1", __name__)
for resource in (profiles, articles, comments, tags, notifications):
    v1.register_blueprint(resource)
register_error_handlers(v1)
