"""The Conduit data that lives in MySQL: follows, articles, tags, favorites.

Comments live in MongoDB (imflask_models.mongo.comments).
"""

from imflask_models.mysql.schema import (
    ID,
    LONG_TEXT,
    REFERENCE,
    TIMESTAMP,
    column,
    foreign_key,
    index,
    migration,
    primary_key,
    string,
    table,
    unique,
)

migration(
    table(
        "follows",
        column("follower_id", REFERENCE),
        column("followed_id", REFERENCE),
        column("created_at", TIMESTAMP),
        primary_key("follower_id", "followed_id"),
        index("ix_follows_followed", "followed_id"),
        foreign_key("fk_follows_follower", "follower_id", "users"),
        foreign_key("fk_follows_followed", "followed_id", "users"),
    ),
    table(
        "articles",
        ID,
        column("slug", string(255)),
        column("title", string(255)),
        column("description", string(1000)),
        column("body", LONG_TEXT),
        column("author_id", REFERENCE),
        column("created_at", TIMESTAMP),
        column("updated_at", TIMESTAMP),
        unique("uq_articles_slug", "slug"),
        index("ix_articles_newest", "created_at", "id"),
        index("ix_articles_author_newest", "author_id", "created_at", "id"),
        foreign_key("fk_articles_author", "author_id", "users"),
    ),
    table(
        "tags",
        ID,
        column("name", string(64)),
        unique("uq_tags_name", "name"),
    ),
    table(
        "article_tags",
        column("article_id", REFERENCE),
        column("tag_id", REFERENCE),
        primary_key("article_id", "tag_id"),
        index("ix_article_tags_tag", "tag_id", "article_id"),
        foreign_key("fk_article_tags_article", "article_id", "articles"),
        foreign_key("fk_article_tags_tag", "tag_id", "tags"),
    ),
    table(
        "favorites",
        column("user_id", REFERENCE),
        column("article_id", REFERENCE),
        column("created_at", TIMESTAMP),
        primary_key("user_id", "article_id"),
        index("ix_favorites_article", "article_id"),
        foreign_key("fk_favorites_user", "user_id", "users"),
        foreign_key("fk_favorites_article", "article_id", "articles"),
    ),
)
