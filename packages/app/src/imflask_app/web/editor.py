"""The editor: write a new article or change one of yours."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from imflask_api.deps import context
from imflask_api.schemas import NewArticle, UpdateArticle
from imflask_app.web import forms, messages
from imflask_app.web.blueprint import web
from imflask_app.web.forms import form_view
from imflask_app.web.session import require_user
from imflask_controllers import articles as article_cases
from imflask_controllers import pages


@web.get("/editor")
def new_article():
    """An empty editor."""
    require_user()
    return render_template("editor.html", form={}, errors={}, slug=None)


@web.post("/editor")
@form_view("editor.html", context=lambda: {"slug": None})
def create_article():
    """Publish an article, then show it."""
    author = require_user()
    data = forms.article_form(NewArticle)
    article = article_cases.create_article(
        context(),
        author=author,
        title=data.title,
        description=data.description,
        body=data.body,
        tags=data.tagList,
    )
    messages.article_published(article.title)
    return redirect(url_for("web.article", slug=article.slug))


@web.get("/editor/<slug>")
def edit_article(slug: str):
    """The editor filled with one of your articles."""
    article = pages.article_for_editing(context(), slug=slug, editor=require_user())
    form = {
        "title": article.title,
        "description": article.description,
        "body": article.body or "",
        "tags": forms.join_tags(article.tags),
    }
    return render_template("editor.html", form=form, errors={}, slug=slug)


@web.post("/editor/<slug>")
@form_view("editor.html", context=lambda slug: {"slug": slug})
def update_article(slug: str):
    """Save the changes (a new title gives a new address), then show the article."""
    editor = require_user()
    data = forms.article_form(UpdateArticle)
    article = article_cases.update_article(context(), slug=slug, editor=editor, **data.changes())
    messages.article_updated(article.title)
    return redirect(url_for("web.article", slug=article.slug))
