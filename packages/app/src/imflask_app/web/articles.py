"""The article page: the rendered body, favorites, comments; deleting an article."""

from __future__ import annotations

from flask import jsonify, redirect, render_template, request, url_for

from imflask_api.deps import context
from imflask_app.web import forms, messages
from imflask_app.web.blueprint import web
from imflask_app.web.forms import form_view
from imflask_app.web.session import current_user, require_user
from imflask_app.web.urls import safe_next
from imflask_controllers import articles as article_cases
from imflask_controllers import comments as comment_cases
from imflask_controllers import pages
from imflask_controllers.articles import Article

FETCH_HEADER = "X-Requested-With"  # set by static/conduit.js: answer JSON, not a redirect


def _article_page(slug: str) -> dict[str, pages.ArticleWithComments]:
    return {"page": pages.article_page(context(), slug=slug, viewer=current_user())}


@web.get("/article/<slug>")
def article(slug: str):
    """One article with its comments."""
    return render_template("article.html", form={}, errors={}, **_article_page(slug))


@web.post("/article/<slug>/delete")
def delete_article(slug: str):
    """Delete one of your articles, then go home."""
    article_cases.delete_article(context(), slug=slug, user=require_user())
    messages.article_deleted()
    return redirect(url_for("web.home"))


@web.post("/article/<slug>/favorite")
def favorite(slug: str):
    """Add the article to your favorites."""
    article = article_cases.favorite_article(context(), slug=slug, user=require_user())
    return _favorite_answer(article)


@web.post("/article/<slug>/unfavorite")
def unfavorite(slug: str):
    """Remove the article from your favorites."""
    article = article_cases.unfavorite_article(context(), slug=slug, user=require_user())
    return _favorite_answer(article)


@web.post("/article/<slug>/comments")
@form_view("article.html", context=_article_page)
def add_comment(slug: str):
    """Post a comment, then show it on the article."""
    author = require_user()
    data = forms.comment_form()
    comment = comment_cases.add_comment(context(), slug=slug, author=author, body=data.body)
    return redirect(url_for("web.article", slug=slug, _anchor=f"comment-{comment.id}"))


@web.post("/article/<slug>/comments/<int:comment_id>/delete")
def delete_comment(slug: str, comment_id: int):
    """Delete one of your comments."""
    comment_cases.delete_comment(context(), slug=slug, comment_id=comment_id, user=require_user())
    return redirect(url_for("web.article", slug=slug, _anchor="comments"))


def _favorite_answer(article: Article):
    """JSON for the page's script (no reload); otherwise back to the page the button was on."""
    if request.headers.get(FETCH_HEADER) == "fetch":
        return jsonify(favorited=article.favorited, favoritesCount=article.favorites_count)
    return redirect(safe_next(url_for("web.article", slug=article.slug)))
