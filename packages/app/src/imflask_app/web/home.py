"""The home page: the global feed, a tag's articles, your feed; popular tags."""

from __future__ import annotations

from flask import render_template, request

from imflask_api.deps import context
from imflask_app.web.blueprint import web
from imflask_app.web.pagination import Pagination, limit_offset, requested_page
from imflask_app.web.session import current_user
from imflask_controllers import pages


@web.get("/")
def home():
    """Newest articles: everyone's, one tag's (``?tag=``) or your feed (``?feed=yours``)."""
    feed = pages.YOURS if request.args.get("feed") == pages.YOURS else pages.GLOBAL
    tag = request.args.get("tag", "").strip()[:255] or None
    number = requested_page()
    home = pages.home_page(
        context(), viewer=current_user(), feed=feed, tag=tag, **limit_offset(number)
    )
    pagination = Pagination(number, home.articles.total)
    return render_template("home.html", home=home, feed=feed, tag=tag, pagination=pagination)
