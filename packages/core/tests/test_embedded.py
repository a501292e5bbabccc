"""The embedded Mongo and Redis daemons: started once, reused, stopped on request."""

from __future__ import annotations

import pymongo
import pytest
import redis

from imflask_core import embedded
from imflask_core.config import load_settings
from imflask_core.errors import ConfigError


def test_a_server_is_started_once_and_reused_until_stopped(tmp_path):
    try:
        mongo_uri = embedded.ensure_running(embedded.MONGO, tmp_path)
        redis_url = embedded.ensure_running(embedded.REDIS, tmp_path)

        assert embedded.ensure_running(embedded.MONGO, tmp_path) == mongo_uri
        assert embedded.ensure_running(embedded.REDIS, tmp_path) == redis_url
        with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000) as client:
            client.t.c.insert_one({"round": "trip"})
            assert client.t.c.find_one({}, {"_id": 0}) == {"round": "trip"}
        client = redis.Redis.from_url(redis_url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        assert embedded.status(tmp_path) == {"mongo": mongo_uri, "redis": redis_url}
    finally:
        stopped = embedded.stop(tmp_path)

    assert len(stopped) == 2
    assert embedded.status(tmp_path) == {"mongo": "not running", "redis": "not running"}


def test_only_development_starts_embedded_stores(tmp_path):
    settings = load_settings(
        "testing", environ={"FLASK_INSTANCE_PATH": str(tmp_path)}, dotenv_path=None
    )

    with pytest.raises(ConfigError, match="only development starts embedded stores"):
        embedded.with_embedded_stores(settings)


def test_named_stores_are_left_alone(tmp_path):
    settings = load_settings(
        "development",
        environ={
            "FLASK_INSTANCE_PATH": str(tmp_path),
            "FLASK_MONGO_URI": "mongodb://m:1",
            "FLASK_REDIS_URL": "redis://r:2/0",
        },
        dotenv_path=None,
    )

    assert embedded.with_embedded_stores(settings) is settings
    assert not (tmp_path / "embedded").exists()
