"""``flask db ...``, ``flask jobs ...`` and ``flask embedded ...``: the app's own commands.

Each command starts only what it needs: the app the ``flask`` command loads has
no stores yet (see ``imflask_app.factory``), and a command that reads or writes
them starts them through ``_context()``. The groups are also ``flask.commands``
entry points (``packages/app/pyproject.toml``), so that Flask finds them without
loading the app first: a configuration error is then the command's own error.
"""

from __future__ import annotations

import time
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, NoAppException, run_command

from imflask_controllers import background, comments, idempotency, seeding
from imflask_controllers.context import Context
from imflask_core import embedded
from imflask_core.errors import ConfigError, StoreUnavailable
from imflask_core.factory import settings_of
from imflask_models.mysql import migrate
from imflask_models.redis import jobs

db = AppGroup("db", help="Schema migrations, indexes and fake data in the stores.")
jobs_cli = AppGroup("jobs", help="The background job queue (RQ on the configured Redis).")
embedded_cli = AppGroup("embedded", help="The local MongoDB and Redis stand-ins (development).")


def register_commands(app: Flask) -> None:
    app.cli.add_command(db)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(embedded_cli)


class ConfigRefused(NoAppException):
    """A ``ConfigError`` as the flask command shows it: ``Error: <message>``, exit status 2,
    no traceback. A ``NoAppException``, so ``flask --help`` prints it above the help."""

    def show(self, file: IO[Any] | None = None) -> None:
        # The message alone: a usage error's "Usage: ... Try --help" would point at the
        # command line, and it is a setting that is wrong.
        click.ClickException.show(self, file)


def loaded_by_flask_command() -> bool:
    """Whether the ``flask`` command (not a WSGI server, a test or a script) builds the app."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and isinstance(ctx.find_root().command, FlaskGroup)


def starts_stores_on_load() -> bool:
    """A server, a test or ``flask run`` starts the stores with the app; other flask
    commands start them only if they use them."""
    if not loaded_by_flask_command():
        return True
    return click.get_current_context().command is run_command


def _context(*, migrate: bool | None = None) -> Context:
    """The app's context, its stores started now if need be (``migrate``: see
    ``start_stores``); a store or setting that cannot start is a one-line error."""
    from imflask_app.factory import start_stores

    try:
        return start_stores(current_app, migrate=migrate)
    except ConfigError as error:
        raise ConfigRefused(str(error)) from None
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending SQL migrations and create Mongo indexes (safe to run twice)."""
    # Not migrated on start (FLASK_AUTO_MIGRATE): this command reports what it applies.
    ctx = _context(migrate=False)
    try:
        done = ctx.stores.upgrade()
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    applied = done["sql_migrations"]
    click.echo(f"SQL migrations applied: {', '.join(applied) if applied else 'none pending'}")
    click.echo(f"Mongo indexes ensured on: {', '.join(done['mongo_indexes']) or 'no collections'}")


@db.command("status")
def db_status() -> None:
    """List applied and pending SQL migrations."""
    try:
        state = migrate.status(settings_of(current_app).mysql_uri)
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    for migration_id in state.applied:
        click.echo(f"applied  {migration_id}")
    for migration_id in state.pending:
        click.echo(f"pending  {migration_id}")
    if state.pending:
        click.echo(f"{len(state.pending)} pending: run `flask db upgrade`")


@db.command("prune")
def db_prune() -> None:
    """Delete what an interrupted cleanup left (comments of deleted articles) and what
    has served its time (jobs done a day ago, idempotency keys older than a day)."""
    ctx = _context()
    try:
        removed = comments.prune_orphaned_comments(ctx)
        jobs_done = background.prune_done(ctx)
        keys = idempotency.prune(ctx)
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"comments of deleted articles removed: {removed}")
    click.echo(f"outbox jobs done a day ago removed: {jobs_done}")
    click.echo(f"idempotency keys older than a day removed: {keys}")


@db.command("seed")
@click.option("--users", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--articles", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="same seed, same data")
def db_seed(users: int, articles: int, seed: int) -> None:
    """Insert deterministic fake users, articles, tags, follows and favorites in bulk.

    Every seeded user's password is "password". Running it twice with the same seed
    adds nothing; another seed adds another set.
    """
    plan = seeding.SeedPlan(users=users, articles=articles, seed=seed)
    started = time.perf_counter()
    try:
        with click.progressbar(length=plan.expected_rows(), label="seeding") as bar:
            report = seeding.seed(_context(), plan, progress=lambda what, n: bar.update(n))
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    took = time.perf_counter() - started
    click.echo(
        f"seeded {report.users} users, {report.articles} articles, {report.tag_links} tag links, "
        f"{report.follows} follows, {report.favorites} favorites in {took:.1f}s"
    )


@jobs_cli.command("status")
def jobs_status() -> None:
    """Jobs queued, running, waiting for a retry and failed; workers listening."""
    ctx = _context()
    try:
        state = jobs.status(ctx.stores.redis, ctx.settings.jobs_queue)
        pending = background.pending_count(ctx)
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    inline = " (FLASK_JOBS_INLINE=1: this app runs jobs itself)" if ctx.settings.jobs_inline else ""
    click.echo(f"queue {state.name}{inline}")
    for label in ("queued", "started", "scheduled", "failed", "workers"):
        click.echo(f"  {label:10} {getattr(state, label)}")
    click.echo(f"  {'outbox':10} {pending} not done yet (the relay queues those the queue lost)")


@jobs_cli.command("relay")
def jobs_relay() -> None:
    """Queue every outbox job not done that the queue does not hold (imflask-worker does
    this every second; run it by hand when no worker runs)."""
    ctx = _context()
    try:
        relayed = background.relay(ctx)
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"relayed {relayed} job(s)")


@jobs_cli.command("failed")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def jobs_failed(limit: int) -> None:
    """List failed jobs with their last error."""
    ctx = _context()
    try:
        failed = jobs.failed_jobs(ctx.stores.redis, ctx.settings.jobs_queue, limit=limit)
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    for job in failed:
        click.echo(f"{job.id}  {job.function}({job.args})  {job.error}")
    click.echo(f"{len(failed)} failed job(s)")


@jobs_cli.command("requeue")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="requeue every failed job")
def jobs_requeue(job_ids: tuple[str, ...], everything: bool) -> None:
    """Put failed jobs back on the queue: the given ids, or --all."""
    if not job_ids and not everything:
        raise click.UsageError("name job ids to requeue, or pass --all")
    ctx = _context()
    try:
        count = jobs.requeue(
            ctx.stores.redis, ctx.settings.jobs_queue, None if everything else list(job_ids)
        )
    except StoreUnavailable as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:  # an unknown id: RQ says which
        raise click.ClickException(f"could not requeue: {error}") from None
    click.echo(f"requeued {count} job(s)")


@embedded_cli.command("status")
def embedded_status() -> None:
    """Show the local stand-in servers of this instance folder."""
    for name, where in embedded.status(settings_of(current_app).instance_path).items():
        click.echo(f"{name:6} {where}")


@embedded_cli.command("stop")
def embedded_stop() -> None:
    """Stop the local stand-in servers (their data stays under instance/)."""
    stopped = embedded.stop(settings_of(current_app).instance_path)
    click.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
