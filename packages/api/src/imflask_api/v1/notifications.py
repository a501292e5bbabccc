"""The signed-in user's notifications (filled by background jobs)."""

from __future__ import annotations

from flask import Blueprint, request

from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.idempotency import idempotent
from imflask_api.parsing import parse_query, parse_raw_body
from imflask_api.schemas import MarkRead, Page
from imflask_api.security import auth_required, require_user
from imflask_api.serializers import inbox_json
from imflask_controllers import notifications as notification_cases

notifications = Blueprint("notifications", __name__, url_prefix="/notifications")


@notifications.get("")
@auth_required
def list_notifications():
    """My notifications, newest first, with the unread count."""
    q = parse_query(Page)
    inbox = notification_cases.inbox_of(
        context(), user=require_user(), limit=q.limit, offset=q.offset
    )
    return inbox_json(inbox)


@notifications.post("/read")
@auth_required
@idempotent
def mark_read():
    """Mark the given notifications (or all of them) read."""
    data = parse_raw_body(MarkRead) if request.get_data(cache=True).strip() else MarkRead()
    if data.ids is not None and not data.ids:
        raise RequestInvalid({"ids": ["can't be empty; leave it out to mark everything read"]})
    unread = notification_cases.mark_read(context(), user=require_user(), ids=data.ids)
    return {"unreadCount": unread}
