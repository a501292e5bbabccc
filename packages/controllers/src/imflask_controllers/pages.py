"""Use cases of the web pages that show several things at once (an article with its
comments, a profile with its articles), composed from the other controllers.

A server-rendered page needs all of them in one request; the API serves each
with its own endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from imflask_controllers import articles, comments, profiles, tags
from imflask_controllers.articles import Article, ArticlePage
from imflask_controllers.comments import Comment
from imflask_controllers.context import Context
from imflask_controllers.errors import Forbidden, Unauthenticated
from imflask_controllers.profiles import Profile
from imflask_controllers.users import User

GLOBAL, YOURS = "global", "yours"


@dataclass(frozen=True)
class HomePage:
    articles: ArticlePage
    popular_tags: list[str]


@dataclass(frozen=True)
class ArticleWithComments:
    article: Article
    comments: list[Comment]


@dataclass(frozen=True)
class ProfilePage:
    profile: Profile
    articles: ArticlePage


def home_page(
    ctx: Context,
    *,
    viewer: User | None,
    feed: str = GLOBAL,
    tag: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> HomePage:
    """The global feed, one tag's articles, or (signed in) the viewer's feed; and the tags."""
    if feed == YOURS:
        if viewer is None:
            raise Unauthenticated("feed", "needs you to sign in")
        page = articles.feed(ctx, viewer=viewer, limit=limit, offset=offset)
    else:
        page = articles.list_articles(ctx, viewer=viewer, tag=tag, limit=limit, offset=offset)
    return HomePage(page, tags.popular_tags(ctx))


def article_page(ctx: Context, *, slug: str, viewer: User | None) -> ArticleWithComments:
    """One article with its body and its comments, newest first."""
    article = articles.get_article(ctx, slug=slug, viewer=viewer)
    return ArticleWithComments(article, comments.list_comments(ctx, slug=slug, viewer=viewer))


def article_for_editing(ctx: Context, *, slug: str, editor: User) -> Article:
    """An article its author is about to edit; ``Forbidden`` for anyone else."""
    article = articles.get_article(ctx, slug=slug, viewer=editor)
    if article.author.username != editor.username:
        raise Forbidden("article", "can only be updated by its author")
    return article


def profile_page(
    ctx: Context,
    *,
    username: str,
    viewer: User | None,
    favorites: bool = False,
    limit: int = 20,
    offset: int = 0,
) -> ProfilePage:
    """A profile with the articles they wrote, or (``favorites``) the ones they favorited."""
    profile = profiles.get_profile(ctx, username=username, viewer=viewer)
    by = {"favorited": username} if favorites else {"author": username}
    page = articles.list_articles(ctx, viewer=viewer, limit=limit, offset=offset, **by)
    return ProfilePage(profile, page)
