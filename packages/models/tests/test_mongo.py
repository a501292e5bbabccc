"""The document store on pymongo: round trips, declared indexes, failures."""

from __future__ import annotations

import time

import pytest
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from imflask_models.errors import StoreUnavailable
from imflask_models.mongo import client as mongo


@pytest.fixture
def declared():
    before = mongo.declared_indexes()
    mongo.declare_indexes(
        "probe",
        [
            IndexModel([("key", ASCENDING)], name="probe_key_unique", unique=True),
            IndexModel([("owner", ASCENDING), ("at", DESCENDING)], name="probe_owner_newest"),
        ],
    )
    yield
    mongo._INDEXES.clear()
    mongo._INDEXES.update(before)


def test_a_document_round_trips(ctx):
    ctx.stores.mongo.db.probe.insert_one({"key": "a", "n": 1})

    assert ctx.stores.mongo.db.probe.find_one({"key": "a"}, {"_id": 0}) == {"key": "a", "n": 1}


def test_declared_indexes_are_created_and_creating_them_twice_changes_nothing(ctx, declared):
    ctx.stores.mongo.ensure_indexes()
    first = ctx.stores.mongo.db.probe.index_information()
    ctx.stores.mongo.ensure_indexes()
    second = ctx.stores.mongo.db.probe.index_information()

    assert first == second
    assert {"probe_key_unique", "probe_owner_newest"} <= set(second)


def test_a_declared_unique_index_is_enforced(ctx, declared):
    ctx.stores.mongo.ensure_indexes()
    ctx.stores.mongo.db.probe.insert_one({"key": "same"})

    with pytest.raises(DuplicateKeyError):
        ctx.stores.mongo.db.probe.insert_one({"key": "same"})


def test_an_unreachable_server_raises_store_unavailable_within_the_timeout():
    store = mongo.MongoStore(
        "mongodb://127.0.0.1:1/?directConnection=true", "x", connect_timeout=0.5, read_timeout=0.5
    )
    started = time.monotonic()

    with pytest.raises(StoreUnavailable) as raised:
        store.ping()

    assert raised.value.store == "mongo"
    assert time.monotonic() - started < 5
    store.close()
