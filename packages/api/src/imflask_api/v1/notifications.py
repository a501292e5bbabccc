"""The signed-in user's notifications (filled by background jobs)."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.idempotency import idempotent
from imflask_api.openapi import body, operation, query
from imflask_api.responses import InboxResponse, UnreadCountResponse
from imflask_api.schemas import MarkRead, Page
from imflask_api.security import auth_required, require_user
from imflask_api.serializers import inbox_json
from imflask_controllers import notifications as notification_cases

notifications = Blueprint("notifications", __name__, url_prefix="/notifications")


@notifications.get("")
@auth_required
@operation("Notifications", "GetNotifications", answers=(200, InboxResponse))
@query(Page)
def list_notifications(q: Page):
    """Get your notifications

    The caller's notifications, newest first, with the total and unread counts.
    """
    inbox = notification_cases.inbox_of(
        context(), user=require_user(), limit=q.limit, offset=q.offset
    )
    return inbox_json(inbox)


@notifications.post("/read")
@auth_required
@idempotent
@operation("Notifications", "MarkNotificationsRead", answers=(200, UnreadCountResponse))
@body(MarkRead, required=False, example={"ids": ["65d1f0c2a4b3c2d1e0f9a8b7"]})
def mark_read(data: MarkRead):
    """Mark notifications read

    Mark the given notifications read; without `ids` (null, left out, or no body at all)
    every notification of the caller is marked read. Ids that are not the caller's are
    ignored; an empty list or an id that is not one is 422.
    """
    if data.ids is not None and not data.ids:
        raise RequestInvalid({"ids": ["can't be empty; leave it out to mark everything read"]})
    unread = notification_cases.mark_read(context(), user=require_user(), ids=data.ids)
    return {"unreadCount": unread}
