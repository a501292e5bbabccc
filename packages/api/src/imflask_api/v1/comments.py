"""Comments on an article."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_api.deps import context
from imflask_api.idempotency import idempotent
from imflask_api.openapi import body, operation
from imflask_api.responses import MultipleCommentsResponse, SingleCommentResponse
from imflask_api.schemas import NewComment
from imflask_api.security import auth_optional, auth_required, current_user, require_user
from imflask_api.serializers import comment_json, comments_json
from imflask_controllers import comments as comment_cases
from imflask_controllers.errors import NotFound

comments = Blueprint("comments", __name__, url_prefix="/articles/<slug>/comments")


@comments.get("")
@auth_optional
@operation("Comments", "GetArticleComments", answers=(200, MultipleCommentsResponse), errors=(404,))
def list_comments(slug: str):
    """Get comments for an article

    An article's comments, newest first. Auth is optional (it sets `author.following`),
    but a token that is sent must be valid.
    """
    return comments_json(comment_cases.list_comments(context(), slug=slug, viewer=current_user()))


@comments.post("")
@auth_required
@idempotent
@operation("Comments", "CreateArticleComment", answers=(200, SingleCommentResponse), errors=(404,))
@body(NewComment, "comment")
def add_comment(slug: str, data: NewComment):
    """Create a comment for an article

    Comment on an article. Answers 200, as the RealWorld spec says.
    """
    return comment_json(
        comment_cases.add_comment(context(), slug=slug, author=require_user(), body=data.body)
    )


@comments.delete("/<comment_id>")
@auth_required
@operation("Comments", "DeleteArticleComment", answers=(204, None), errors=(403, 404))
def delete_comment(slug: str, comment_id: str):
    """Delete a comment for an article

    Delete a comment; its author only. An unknown or non-numeric id is 404.
    """
    if not comment_id.isascii() or not comment_id.isdigit():
        raise NotFound("comment")
    comment_cases.delete_comment(
        context(), slug=slug, comment_id=int(comment_id), user=require_user()
    )
    return Response(status=204)
