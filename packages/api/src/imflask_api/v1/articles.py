"""Articles: lists and the feed, one article, writing, favorites."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.idempotency import idempotent
from imflask_api.parsing import parse_body, parse_query
from imflask_api.schemas import ArticleQuery, NewArticle, Page, UpdateArticle
from imflask_api.security import auth_optional, auth_required, current_user
from imflask_api.serializers import article_json, articles_json
from imflask_controllers import articles as article_cases

articles = Blueprint("articles", __name__, url_prefix="/articles")


@articles.get("")
@auth_optional
def list_articles():
    """Newest articles, optionally by tag, author or who favorited them."""
    q = parse_query(ArticleQuery)
    page = article_cases.list_articles(
        context(),
        viewer=current_user(),
        tag=q.tag,
        author=q.author,
        favorited=q.favorited,
        limit=q.limit,
        offset=q.offset,
    )
    return articles_json(page)


@articles.get("/feed")
@auth_required
def feed():
    """Newest articles by the authors the signed-in user follows."""
    q = parse_query(Page)
    page = article_cases.feed(context(), viewer=current_user(), limit=q.limit, offset=q.offset)
    return articles_json(page)


@articles.get("/<slug>")
@auth_optional
def get_article(slug: str):
    """One article, with its body."""
    return article_json(article_cases.get_article(context(), slug=slug, viewer=current_user()))


@articles.post("")
@auth_required
@idempotent
def create_article():
    """Publish an article."""
    data = parse_body(NewArticle, "article")
    article = article_cases.create_article(
        context(),
        author=current_user(),
        title=data.title,
        description=data.description,
        body=data.body,
        tags=data.tagList,
    )
    return article_json(article), 201


@articles.put("/<slug>")
@auth_required
def update_article(slug: str):
    """Change an article's title, description, body or tags (its author only)."""
    data = parse_body(UpdateArticle, "article")
    if not data.model_fields_set:
        raise RequestInvalid({"article": ["must have at least one field to update"]})
    article = article_cases.update_article(
        context(), slug=slug, editor=current_user(), **data.changes()
    )
    return article_json(article)


@articles.delete("/<slug>")
@auth_required
def delete_article(slug: str):
    """Delete an article (its author only)."""
    article_cases.delete_article(context(), slug=slug, user=current_user())
    return Response(status=204)


@articles.post("/<slug>/favorite")
@auth_required
@idempotent
def favorite(slug: str):
    """Favorite an article."""
    return article_json(article_cases.favorite_article(context(), slug=slug, user=current_user()))


@articles.delete("/<slug>/favorite")
@auth_required
def unfavorite(slug: str):
    """Remove an article from the signed-in user's favorites."""
    return article_json(article_cases.unfavorite_article(context(), slug=slug, user=current_user()))
