"""Comments on an article."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_api.deps import context
from imflask_api.idempotency import idempotent
from imflask_api.parsing import parse_body
from imflask_api.schemas import NewComment
from imflask_api.security import auth_optional, auth_required, current_user
from imflask_api.serializers import comment_json, comments_json
from imflask_controllers import comments as comment_cases
from imflask_controllers.errors import NotFound

comments = Blueprint("comments", __name__, url_prefix="/articles/<slug>/comments")


@comments.get("")
@auth_optional
def list_comments(slug: str):
    """An article's comments, newest first."""
    return comments_json(comment_cases.list_comments(context(), slug=slug, viewer=current_user()))


@comments.post("")
@auth_required
@idempotent
def add_comment(slug: str):
    """Comment on an article (200, as the spec says)."""
    data = parse_body(NewComment, "comment")
    return comment_json(
        comment_cases.add_comment(context(), slug=slug, author=current_user(), body=data.body)
    )


@comments.delete("/<comment_id>")
@auth_required
def delete_comment(slug: str, comment_id: str):
    """Delete a comment (its author only)."""
    if not comment_id.isascii() or not comment_id.isdigit():
        raise NotFound("comment")
    comment_cases.delete_comment(
        context(), slug=slug, comment_id=int(comment_id), user=current_user()
    )
    return Response(status=204)
