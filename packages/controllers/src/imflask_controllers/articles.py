"""Use cases of articles: lists and the feed, one article, writing, favorites."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, TypeVar

from imflask_controllers import caches, effects, limits, lists, profiles, reads, slugs
from imflask_controllers.context import Context
from imflask_controllers.errors import Forbidden, NotFound
from imflask_controllers.jobs import register_job
from imflask_controllers.profiles import Profile, PublicProfile
from imflask_controllers.users import User, user_of
from imflask_models.errors import DuplicateKey
from imflask_models.mongo import comments as comments_collection
from imflask_models.mysql import articles as articles_table
from imflask_models.mysql import favorites
from imflask_models.mysql import tags as tags_table
from imflask_models.mysql import users as users_table
from imflask_models.mysql import viewer as reader
from imflask_models.mysql.articles import ArticleFilters, ArticleRow, ListedArticle
from imflask_models.mysql.database import SqlConnection

SLUG_ATTEMPTS = 6
T = TypeVar("T")


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    description: str
    body: str | None  # None in lists and the feed
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    favorited: bool
    favorites_count: int
    author: Profile


@dataclass(frozen=True)
class ArticlePage:
    articles: list[Article]
    total: int  # every article that matches, not just this page


# What the cache keeps (JSON: the dates are ISO strings); ``Article`` is made from these.


class ListItem(TypedDict):
    """An article as a list page keeps it: no body, no favorites count (cached apart)."""

    id: int
    slug: str
    title: str
    description: str
    tags: list[str]
    created_at: str
    updated_at: str
    author: PublicProfile


class PublicArticle(ListItem):
    """What every reader sees of one article, with its body and favorites count."""

    body: str | None
    favorites_count: int


class _Flags(TypedDict):
    favorited: list[int]  # listed article ids
    following: list[int]  # their authors' ids


class _CachedPage(TypedDict):
    rows: list[ListItem]
    total: int
    flags: NotRequired[_Flags]  # the viewer's, on a personal page (the feed)


def list_articles(
    ctx: Context,
    *,
    viewer: User | None,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> ArticlePage:
    """Newest first, filtered by tag, author and/or who favorited them (replica if any)."""
    filters = {"tag": tag or None, "author": author or None, "favorited": favorited or None}

    def load(conn: SqlConnection) -> ArticleFilters | None:
        return _resolve_filters(conn, tag=tag, author=author, favorited=favorited)

    return _page(
        ctx,
        filters,
        lists.page_scopes(tag_name=tag, author_name=author, favorited_by=favorited),
        load,
        viewer=viewer,
        limit=limit,
        offset=offset,
    )


def feed(ctx: Context, *, viewer: User, limit: int = 20, offset: int = 0) -> ArticlePage:
    """Articles by the authors the viewer follows, newest first (replica if any)."""
    filters = ArticleFilters(followed_by=viewer.id)
    return _page(
        ctx,
        {"feed": viewer.id},
        lists.feed_scopes(viewer.id),
        lambda conn: filters,
        viewer=viewer,
        limit=limit,
        offset=offset,
        personal=True,
    )


def _page(
    ctx: Context,
    identity: dict[str, Any],
    scopes: list[str],
    resolve: Callable[[SqlConnection], ArticleFilters | None],
    *,
    viewer: User | None,
    limit: int,
    offset: int,
    personal: bool = False,
) -> ArticlePage:
    """A list page: its public part and its favorites counts through the cache, then the
    viewer's flags; the reads go where ``reads.read`` says (a replica if it can).

    A ``personal`` page (the feed) is only ever read by ``viewer``, so its cache
    entry keeps their flags too: their favorites and follows bump its scope
    (``lists``), so they are as fresh as the rest of the page.
    """

    def load_page(conn: SqlConnection) -> _CachedPage:
        filters = resolve(conn)
        if filters is None:  # a filter names nothing that exists: nothing matches
            return {"rows": [], "total": 0}
        rows = articles_table.article_page(conn, filters, limit=limit, offset=offset)
        tags = tags_table.tags_of_articles(conn, [row.id for row in rows])
        total = articles_table.article_count(conn, filters)
        page: _CachedPage = {
            "rows": [_listed_json(row, tags.get(row.id, [])) for row in rows],
            "total": total,
        }
        if personal and viewer is not None:
            liked, followed = _viewer_flags(conn, viewer, page["rows"])
            page["flags"] = {"favorited": sorted(liked), "following": sorted(followed)}
        return page

    page = lists.cached_page(
        ctx,
        {**identity, "limit": limit, "offset": offset},
        scopes,
        lambda after: reads.read(ctx, load_page, viewer=viewer, after=after),
    )
    counts = _favorites_counts(ctx, [row["id"] for row in page["rows"]], viewer)
    if "flags" in page:
        liked, followed = set(page["flags"]["favorited"]), set(page["flags"]["following"])
    elif viewer is not None and page["rows"]:
        liked, followed = reads.read(
            ctx, lambda conn: _viewer_flags(conn, viewer, page["rows"]), viewer=viewer
        )
    else:
        liked, followed = set[int](), set[int]()
    return ArticlePage(_listed_articles(page["rows"], counts, liked, followed), page["total"])


def _favorites_counts(ctx: Context, ids: list[int], viewer: User | None) -> dict[int, int]:
    """Each listed article's favorites count, through the cache (one round trip)."""

    def load(missing: list[int], after: str | None) -> dict[int, int]:
        return reads.read(
            ctx, lambda conn: favorites.favorite_counts(conn, missing), viewer=viewer, after=after
        )

    return lists.cached_favorites_counts(ctx, ids, load)


def get_article(ctx: Context, *, slug: str, viewer: User | None) -> Article:
    public = _public_article(ctx, slug)
    favorited = following = False
    if viewer is not None:
        with ctx.stores.sql.connection() as conn:
            liked, followed = reader.viewer_flags(
                conn, viewer.id, [public["id"]], [public["author"]["id"]]
            )
        favorited, following = bool(liked), bool(followed)
    return _article_of(public, favorited=favorited, following=following)


# Writes answer from what they wrote, read inside their transaction: once it has
# committed, nothing else can fail the request (a client that saw a 503 after a
# commit would retry and write twice). What follows the commit is ``effects``'s, and
# never raises.


@limits.write_limited(by="author")
def create_article(
    ctx: Context, *, author: User, title: str, description: str, body: str, tags: Sequence[str]
) -> Article:
    """A new article with a unique slug made from its title."""
    tag_ids = ctx.stores.sql.run_transaction(lambda conn: tags_table.ensure_tags(conn, tags))

    def write(conn: SqlConnection) -> tuple[ArticleRow, effects.Jobs]:
        row = _write_with_unique_slug(
            slugs.slugify(title),
            lambda candidate: articles_table.insert_article(
                conn,
                slug=candidate,
                title=title,
                description=description,
                body=body,
                author_id=author.id,
            ),
        )
        tags_table.add_article_tags(conn, row.id, tag_ids.values())
        return row, effects.record_article_published(conn, article_id=row.id)

    row, jobs = ctx.stores.sql.run_transaction(write)
    effects.article_published(
        ctx, author_id=author.id, author_name=author.username, tags=tag_ids, jobs=jobs
    )
    public = _public_json(row, author, sorted(tag_ids), favorites_count=0)
    return _article_of(public, favorited=False, following=False)


@limits.write_limited(by="editor")
def update_article(
    ctx: Context,
    *,
    slug: str,
    editor: User,
    title: str | None = None,
    description: str | None = None,
    body: str | None = None,
    tags: Sequence[str] | None = None,
) -> Article:
    """Change the given fields; a new title gives a new slug. Only the author may."""
    tag_ids = None
    if tags is not None:
        tag_ids = ctx.stores.sql.run_transaction(lambda conn: tags_table.ensure_tags(conn, tags))

    def write(conn: SqlConnection) -> tuple[PublicArticle, bool]:
        row = _own_article(conn, slug, editor, "updated")
        new_slug = None if title is None else slugs.slugify(title)
        retitled = new_slug is not None and new_slug != slugs.slugify(row.title)
        written = _write_with_unique_slug(
            new_slug if new_slug is not None and retitled else row.slug,
            lambda candidate: articles_table.update_article(
                conn,
                row,
                slug=candidate,
                title=row.title if title is None else title,
                description=row.description if description is None else description,
                body=(row.body or "") if body is None else body,
            ),
        )
        if tag_ids is not None:
            tags_table.replace_article_tags(conn, row.id, tag_ids.values())
        public = _load_public(conn, written)
        liked, _ = reader.viewer_flags(conn, editor.id, [row.id], [editor.id])
        return public, bool(liked)

    public, favorited = ctx.stores.sql.run_transaction(write)
    effects.article_changed(ctx, slugs=[slug, public["slug"]], tags_changed=tags is not None)
    return _article_of(public, favorited=favorited, following=False)


@limits.write_limited(by="user")
def delete_article(ctx: Context, *, slug: str, user: User) -> None:
    """Delete an article with its tags links, favorites and comments. Only the author may."""

    def write(conn: SqlConnection) -> effects.Jobs:
        row = _own_article(conn, slug, user, "deleted")
        articles_table.delete_article(conn, row.id)
        return effects.record_article_deleted(conn, article_id=row.id)

    jobs = ctx.stores.sql.run_transaction(write)
    effects.article_deleted(ctx, slug=slug, jobs=jobs)


@register_job("delete_comments_of_article")
def delete_comments_of_article(ctx: Context, *, article_id: int) -> int:
    """Delete a deleted article's comments (a background job; running it twice is harmless)."""
    return comments_collection.delete_comments_of_article(ctx.stores.mongo.db, article_id)


@limits.write_limited(by="user")
def favorite_article(ctx: Context, *, slug: str, user: User) -> Article:
    return _set_favorite(ctx, slug, user, favorites.favorite, favorited=True)


@limits.write_limited(by="user")
def unfavorite_article(ctx: Context, *, slug: str, user: User) -> Article:
    return _set_favorite(ctx, slug, user, favorites.unfavorite, favorited=False)


def _set_favorite(
    ctx: Context, slug: str, user: User, change: Callable[..., None], *, favorited: bool
) -> Article:
    def write(conn: SqlConnection) -> tuple[PublicArticle, bool]:
        row = _article(conn, slug)
        change(conn, user_id=user.id, article_id=row.id)
        public = _load_public(conn, row)
        _, followed = reader.viewer_flags(conn, user.id, [row.id], [row.author_id])
        return public, bool(followed)

    public, following = ctx.stores.sql.run_transaction(write)
    effects.favorites_changed(
        ctx, slug=slug, article_id=public["id"], username=user.username, user_id=user.id
    )
    return _article_of(public, favorited=favorited, following=following)


def article_id_by_slug(ctx: Context, slug: str) -> int:
    """The id of an existing article (for comments); ``NotFound`` otherwise."""
    return _public_article(ctx, slug)["id"]


def _public_article(ctx: Context, slug: str) -> PublicArticle:
    """What every reader sees of one article and its author, through the cache."""

    def load() -> PublicArticle | None:
        with ctx.stores.sql.connection() as conn:
            row = articles_table.article_by_slug(conn, slug)
            return None if row is None else _load_public(conn, row)

    public = caches.article(ctx, slug, load)
    if public is None:
        raise NotFound("article")
    return public


def _load_public(conn: SqlConnection, row: ArticleRow) -> PublicArticle:
    """The public part of an article row: with its author, tags and favorites count."""
    author = users_table.user_by_id(conn, row.author_id)
    assert author is not None  # articles go with their author (ON DELETE CASCADE)
    tags = tags_table.tags_of_articles(conn, [row.id]).get(row.id, [])
    count = favorites.favorite_counts(conn, [row.id])[row.id]
    return _public_json(row, user_of(author), tags, favorites_count=count)


def _public_json(
    row: ArticleRow, author: User, tags: list[str], *, favorites_count: int
) -> PublicArticle:
    """An article's public part, as the cache keeps it."""
    return {
        "id": row.id,
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "body": row.body,
        "tags": tags,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "author": profiles.public(author),
        "favorites_count": favorites_count,
    }


def _article_of(public: PublicArticle, *, favorited: bool, following: bool) -> Article:
    author = public["author"]
    return Article(
        slug=public["slug"],
        title=public["title"],
        description=public["description"],
        body=public["body"],
        tags=public["tags"],
        created_at=datetime.fromisoformat(public["created_at"]),
        updated_at=datetime.fromisoformat(public["updated_at"]),
        favorited=favorited,
        favorites_count=public["favorites_count"],
        author=Profile(author["username"], author["bio"], author["image"], following),
    )


def _article(conn: SqlConnection, slug: str) -> ArticleRow:
    row = articles_table.article_by_slug(conn, slug)
    if row is None:
        raise NotFound("article")
    return row


def _own_article(conn: SqlConnection, slug: str, user: User, verb: str) -> ArticleRow:
    row = _article(conn, slug)
    if row.author_id != user.id:
        raise Forbidden("article", f"can only be {verb} by its author")
    return row


def _write_with_unique_slug(base: str, write: Callable[[str], T]) -> T:
    """Run ``write(slug)`` with ``base``, then suffixed variants while the slug is taken.

    The unique index decides, so two writers racing for one title both succeed
    with distinct slugs.
    """
    slug = base
    for _ in range(SLUG_ATTEMPTS):
        try:
            return write(slug)
        except DuplicateKey as error:
            if error.field != "slug":
                raise
            slug = slugs.with_suffix(base)
    raise RuntimeError(f"no free slug for {base!r} after {SLUG_ATTEMPTS} attempts")


def _resolve_filters(
    conn: SqlConnection, *, tag: str | None, author: str | None, favorited: str | None
) -> ArticleFilters | None:
    filters = ArticleFilters()
    if tag:
        tag_id = tags_table.tag_id_by_name(conn, tag)
        if tag_id is None:
            return None
        filters = dataclasses.replace(filters, tag_id=tag_id)
    for name, username in (("author_id", author), ("favorited_by", favorited)):
        if username:
            user = users_table.user_by_username(conn, username)
            if user is None:
                return None
            filters = dataclasses.replace(filters, **{name: user.id})
    return filters


def _listed_json(row: ListedArticle, tags: list[str]) -> ListItem:
    """A list item's public part, as the cache keeps it."""
    return {
        "id": row.id,
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "tags": tags,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        # no favorites count: each is cached apart (see lists.py)
        "author": {
            "id": row.author_id,
            "username": row.author_username,
            "bio": row.author_bio,
            "image": row.author_image,
        },
    }


def _viewer_flags(
    conn: SqlConnection, viewer: User, rows: list[ListItem]
) -> tuple[set[int], set[int]]:
    """(listed articles the viewer favorited, their authors the viewer follows)."""
    return reader.viewer_flags(
        conn, viewer.id, [row["id"] for row in rows], {row["author"]["id"] for row in rows}
    )


def _listed_articles(
    rows: list[ListItem], counts: dict[int, int], liked: set[int], followed: set[int]
) -> list[Article]:
    """Cached list items as articles, with their counts, ``favorited`` and ``following``."""
    return [
        Article(
            slug=row["slug"],
            title=row["title"],
            description=row["description"],
            body=None,
            tags=row["tags"],
            created_at=datetime.fromisoformat(row["created_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
            favorited=row["id"] in liked,
            favorites_count=counts.get(row["id"], 0),
            author=Profile(
                row["author"]["username"],
                row["author"]["bio"],
                row["author"]["image"],
                row["author"]["id"] in followed,
            ),
        )
        for row in rows
    ]
