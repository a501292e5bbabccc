"""Durable effects of writes.

outbox: a background job recorded in the transaction of the write that caused it;
the relay hands it to the queue until the job has run (done_at), so a queue that
loses its data loses no job.
idempotency_keys: the first answer to a POST sent with an Idempotency-Key header,
replayed to a retry of the same request.
"""

from imflask_models.mysql.schema import (
    ID,
    LONG_TEXT,
    SMALLINT,
    TEXT,
    TIMESTAMP,
    char,
    column,
    index,
    migration,
    string,
    table,
    unique,
)

migration(
    table(
        "outbox",
        ID,
        column("job", string(200)),
        column("kwargs", TEXT),
        column("request_id", string(64), null=True),
        column("created_at", TIMESTAMP),
        column("done_at", TIMESTAMP, null=True),
        index("ix_outbox_pending", "done_at", "id"),
    ),
    table(
        "idempotency_keys",
        ID,
        column("scope", char(64)),
        column("fingerprint", char(64)),
        column("status", SMALLINT, null=True),
        column("response", LONG_TEXT, null=True),
        column("created_at", TIMESTAMP),
        unique("uq_idempotency_scope", "scope"),
        index("ix_idempotency_created", "created_at"),
    ),
)
