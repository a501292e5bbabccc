"""Tags."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.deps import context
from imflask_controllers import tags as tag_cases

tags = Blueprint("tags", __name__, url_prefix="/tags")


@tags.get("")
def list_tags():
    """The tags in use, most used first."""
    return {"tags": tag_cases.popular_tags(context())}
