"""``flask db ...`` and ``flask embedded ...``: the app's own commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from imflask_core import embedded
from imflask_core.errors import StoreUnavailable
from imflask_core.factory import settings_of
from imflask_models.mysql import migrate

db = AppGroup("db", help="Schema migrations and indexes of the stores.")
embedded_cli = AppGroup("embedded", help="The local MongoDB and Redis stand-ins (development).")


def register_commands(app: Flask) -> None:
    app.cli.add_command(db)
    app.cli.add_command(embedded_cli)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending SQL migrations and create Mongo indexes (safe to run twice)."""
    from imflask_app.factory import context_of

    try:
        done = context_of(current_app).stores.upgrade()
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
