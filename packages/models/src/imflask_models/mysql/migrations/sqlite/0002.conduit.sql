-- The Conduit data that lives in MySQL: follows, articles, tags, favorites.
-- Comments live in MongoDB (imflask_models.mongo.comments).

CREATE TABLE follows (
    follower_id INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followed_id INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (follower_id, followed_id)
) WITHOUT ROWID;
CREATE INDEX ix_follows_followed ON follows (followed_id);

CREATE TABLE articles (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    slug        TEXT     NOT NULL,
    title       TEXT     NOT NULL,
    description TEXT     NOT NULL,
    body        TEXT     NOT NULL,
    author_id   INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    CONSTRAINT uq_articles_slug UNIQUE (slug)
);
CREATE INDEX ix_articles_newest ON articles (created_at, id);
CREATE INDEX ix_articles_author_newest ON articles (author_id, created_at, id);

CREATE TABLE tags (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT    NOT NULL,
    CONSTRAINT uq_tags_name UNIQUE (name)
);

CREATE TABLE article_tags (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id     INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, tag_id)
) WITHOUT ROWID;
CREATE INDEX ix_article_tags_tag ON article_tags (tag_id, article_id);

CREATE TABLE favorites (
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id INTEGER  NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (user_id, article_id)
) WITHOUT ROWID;
CREATE INDEX ix_favorites_article ON favorites (article_id);
