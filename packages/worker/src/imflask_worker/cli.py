"""``imflask-worker``: run an RQ worker on the configured Redis, without Flask."""

from __future__ import annotations

import argparse
import logging
from datetime import timedelta

import redis
from rq import Queue, Worker

from imflask_controllers import background
from imflask_core.config import load_settings
from imflask_core.embedded import with_embedded_stores
from imflask_core.errors import ConfigError
from imflask_core.observability import configure_logging
from imflask_worker.context import process_context
from imflask_worker.relay import start_relay

log = logging.getLogger("imflask_worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="imflask-worker",
        description="Run background jobs from the RQ queue on the configured Redis "
        "(FLASK_REDIS_URL, FLASK_JOBS_QUEUE; see the README).",
    )
    parser.add_argument("--burst", action="store_true", help="empty the queue, then exit")
    parser.add_argument("--name", help="worker name (default: host and pid)")
    parser.add_argument(
        "--no-relay",
        action="store_true",
        help="do not relay the outbox's jobs to the queue (another worker does)",
    )
    args = parser.parse_args(argv)
    try:
        settings = with_embedded_stores(load_settings())
    except ConfigError as error:
        parser.exit(2, f"imflask-worker: {error}\n")
    configure_logging(settings.log_level, json_lines=settings.log_json)
    # No read timeout here: the worker blocks on the queue for minutes at a time.
    connection = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=settings.store_connect_timeout
    )
    try:
        connection.ping()
    except redis.RedisError as error:
        parser.exit(1, f"imflask-worker: Redis at {settings.redis_url} does not answer: {error}\n")
    if not args.no_relay:
        ctx = process_context()
        if args.burst:  # catch up once, then empty the queue
            relayed = background.relay(ctx, grace=timedelta(0))
            log.info("relayed %s outbox jobs", relayed)
        else:
            start_relay(ctx)
    queue = Queue(settings.jobs_queue, connection=connection)
    worker = Worker([queue], connection=connection, name=args.name)
    log.info("worker %s on queue %s", worker.name, settings.jobs_queue)
    worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
