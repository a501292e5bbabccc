"""Profile pages: someone's articles or favorites; following them."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from imflask_api.deps import context
from imflask_app.web.blueprint import web
from imflask_app.web.pagination import Pagination, limit_offset, requested_page
from imflask_app.web.session import current_user, require_user
from imflask_app.web.urls import safe_next
from imflask_controllers import pages
from imflask_controllers import profiles as profile_cases


@web.get("/profile/<username>")
def profile(username: str):
    """A profile with the articles they wrote."""
    return _profile_page(username, favorites=False)


@web.get("/profile/<username>/favorites")
def profile_favorites(username: str):
    """A profile with the articles they favorited."""
    return _profile_page(username, favorites=True)


@web.post("/profile/<username>/follow")
def follow(username: str):
    """Follow someone: their articles join your feed."""
    profile_cases.follow_user(context(), username=username, follower=require_user())
    return redirect(safe_next(url_for("web.profile", username=username)))


@web.post("/profile/<username>/unfollow")
def unfollow(username: str):
    """Stop following someone."""
    profile_cases.unfollow_user(context(), username=username, follower=require_user())
    return redirect(safe_next(url_for("web.profile", username=username)))


def _profile_page(username: str, *, favorites: bool):
    number = requested_page()
    page = pages.profile_page(
        context(),
        username=username,
        viewer=current_user(),
        favorites=favorites,
        **limit_offset(number),
    )
    pagination = Pagination(number, page.articles.total)
    return render_template("profile.html", page=page, favorites=favorites, pagination=pagination)
