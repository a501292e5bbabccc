"""Users: the accounts behind the RealWorld user and profile objects."""

from imflask_models.mysql.schema import (
    ID,
    TEXT,
    TIMESTAMP,
    column,
    migration,
    string,
    table,
    unique,
)

migration(
    table(
        "users",
        ID,
        column("username", string(64)),
        column("email", string(254)),
        column("password_hash", string(255)),
        column("bio", TEXT, null=True),
        column("image", string(2048), null=True),
        column("created_at", TIMESTAMP),
        column("updated_at", TIMESTAMP),
        unique("uq_users_username", "username"),
        unique("uq_users_email", "email"),
    ),
)
