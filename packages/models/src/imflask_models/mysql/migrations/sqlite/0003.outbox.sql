-- Durable effects of writes (see the MySQL twin for what each table is for).

CREATE TABLE outbox (
    id         INTEGER  PRIMARY KEY AUTOINCREMENT,
    job        TEXT     NOT NULL,
    kwargs     TEXT     NOT NULL,
    request_id TEXT     NULL,
    created_at DATETIME NOT NULL,
    done_at    DATETIME NULL
);
CREATE INDEX ix_outbox_pending ON outbox (done_at, id);

CREATE TABLE idempotency_keys (
    id          INTEGER  PRIMARY KEY AUTOINCREMENT,
    scope       TEXT     NOT NULL,
    fingerprint TEXT     NOT NULL,
    status      INTEGER  NULL,
    response    TEXT     NULL,
    created_at  DATETIME NOT NULL,
    CONSTRAINT uq_idempotency_scope UNIQUE (scope)
);
CREATE INDEX ix_idempotency_created ON idempotency_keys (created_at);
