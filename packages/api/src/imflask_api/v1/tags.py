"""Tags."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.deps import context
from imflask_api.openapi import operation
from imflask_api.responses import TagsResponse
from imflask_controllers import tags as tag_cases

tags = Blueprint("tags", __name__, url_prefix="/tags")


@tags.get("")
@operation("Tags", "GetTags", answers=(200, TagsResponse))
def list_tags():
    """Get tags

    The 100 most used tags, most used first.
    """
    return {"tags": tag_cases.popular_tags(context())}
