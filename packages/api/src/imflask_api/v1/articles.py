"""Articles: lists and the feed, one article, writing, favorites."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.idempotency import idempotent
from imflask_api.openapi import body, operation, query
from imflask_api.responses import MultipleArticlesResponse, SingleArticleResponse
from imflask_api.schemas import ArticleQuery, NewArticle, Page, UpdateArticle
from imflask_api.security import auth_optional, auth_required, current_user, require_user
from imflask_api.serializers import article_json, articles_json
from imflask_controllers import articles as article_cases

articles = Blueprint("articles", __name__, url_prefix="/articles")


@articles.get("")
@auth_optional
@operation("Articles", "GetArticles", answers=(200, MultipleArticlesResponse))
@query(ArticleQuery)
def list_articles(q: ArticleQuery):
    """Get recent articles globally

    Newest articles first, without `body`. Filters combine (AND); an unknown tag or user
    gives an empty list. `articlesCount` is the total that match, not the page size. Auth
    is optional (it sets `favorited` and `author.following`), but a token that is sent
    must be valid.
    """
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
@operation("Articles", "GetArticlesFeed", answers=(200, MultipleArticlesResponse))
@query(Page)
def feed(q: Page):
    """Get recent articles from users you follow

    Articles by the authors the caller follows, newest first, without `body`.
    """
    page = article_cases.feed(context(), viewer=require_user(), limit=q.limit, offset=q.offset)
    return articles_json(page)


@articles.get("/<slug>")
@auth_optional
@operation("Articles", "GetArticle", answers=(200, SingleArticleResponse), errors=(404,))
def get_article(slug: str):
    """Get an article

    One article, with its body. Auth is optional, but a token that is sent must be valid.
    """
    return article_json(article_cases.get_article(context(), slug=slug, viewer=current_user()))


@articles.post("")
@auth_required
@idempotent
@operation("Articles", "CreateArticle", answers=(201, SingleArticleResponse))
@body(NewArticle, "article")
def create_article(data: NewArticle):
    """Create an article

    Publish an article. Its slug comes from the title (letters of every script are kept);
    a second article with the same title gets a suffix (`title-3f9a1c`). The author's
    followers get a notification.
    """
    article = article_cases.create_article(
        context(),
        author=require_user(),
        title=data.title,
        description=data.description,
        body=data.body,
        tags=data.tagList,
    )
    return article_json(article), 201


@articles.put("/<slug>")
@auth_required
@operation("Articles", "UpdateArticle", answers=(200, SingleArticleResponse), errors=(403, 404))
@body(UpdateArticle, "article")
def update_article(slug: str, data: UpdateArticle):
    """Update an article

    Change an article's title, description, body or tags (beyond the spec, `tagList`
    replaces the tags). Its author only. A new title gives a new slug. At least one field
    is required.
    """
    if not data.model_fields_set:
        raise RequestInvalid({"article": ["must have at least one field to update"]})
    article = article_cases.update_article(
        context(), slug=slug, editor=require_user(), **data.changes()
    )
    return article_json(article)


@articles.delete("/<slug>")
@auth_required
@operation("Articles", "DeleteArticle", answers=(204, None), errors=(403, 404))
def delete_article(slug: str):
    """Delete an article

    Delete an article, its favorites, tag links and comments. Its author only.
    """
    article_cases.delete_article(context(), slug=slug, user=require_user())
    return Response(status=204)


@articles.post("/<slug>/favorite")
@auth_required
@idempotent
@operation(
    "Favorites", "CreateArticleFavorite", answers=(200, SingleArticleResponse), errors=(404,)
)
def favorite(slug: str):
    """Favorite an article

    Favorite an article; favoriting twice is the same as once.
    """
    return article_json(article_cases.favorite_article(context(), slug=slug, user=require_user()))


@articles.delete("/<slug>/favorite")
@auth_required
@operation(
    "Favorites", "DeleteArticleFavorite", answers=(200, SingleArticleResponse), errors=(404,)
)
def unfavorite(slug: str):
    """Unfavorite an article

    Remove an article from the caller's favorites.
    """
    return article_json(article_cases.unfavorite_article(context(), slug=slug, user=require_user()))
