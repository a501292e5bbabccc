-- Durable effects of writes.
-- outbox: a background job recorded in the transaction of the write that caused it;
-- the relay hands it to the queue until the job has run (done_at), so a queue that
-- loses its data loses no job.
-- idempotency_keys: the first answer to a POST sent with an Idempotency-Key header,
-- replayed to a retry of the same request.

CREATE TABLE outbox (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    job        VARCHAR(200)    NOT NULL,
    kwargs     TEXT            NOT NULL,
    request_id VARCHAR(64)     NULL,
    created_at DATETIME(3)     NOT NULL,
    done_at    DATETIME(3)     NULL,
    PRIMARY KEY (id),
    KEY ix_outbox_pending (done_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE idempotency_keys (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    scope       CHAR(64)        NOT NULL,
    fingerprint CHAR(64)        NOT NULL,
    status      SMALLINT        NULL,
    response    MEDIUMTEXT      NULL,
    created_at  DATETIME(3)     NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_idempotency_scope UNIQUE (scope),
    KEY ix_idempotency_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
