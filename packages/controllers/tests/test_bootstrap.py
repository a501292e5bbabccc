"""``bootstrap``: a migration that cannot reach a store fails the start, naming the store."""

from __future__ import annotations

import pytest

from imflask_controllers.context import bootstrap
from imflask_core.errors import StoreUnavailable


def test_a_migration_that_cannot_reach_mongodb_fails_the_bootstrap(ctx):
    settings = ctx.settings.replace(
        mongo_uri="mongodb://127.0.0.1:1/?directConnection=true",
        store_connect_timeout=0.3,
        store_read_timeout=0.3,
    )

    with pytest.raises(StoreUnavailable) as raised:
        bootstrap(settings, migrate=True)

    assert raised.value.store == "mongo"
