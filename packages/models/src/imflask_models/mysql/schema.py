"""The relational schema, written once: tables, columns, keys and indexes in a small
vocabulary that ``dialect.py`` renders as MySQL or SQLite DDL.

A migration is a file ``migrations/000N.<name>.py`` (its id is the file name, as
yoyo reads it) that calls ``migration(...)`` once with the tables it creates, or
``columns_added(table, ...)`` with the columns it adds to one table::

    migration(
        table(
            "tags",
            ID,
            column("name", string(64)),
            unique("uq_tags_name", "name"),
        ),
    )

``declared()`` reads the same files back, so the code that turns a duplicate-key
error into the field it names knows every unique key and its columns.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from yoyo import step

from imflask_models.mysql.dialect import dialect_of

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Type:
    """A column type: ``kind`` is what each dialect renders, ``family`` what both agree on."""

    kind: str
    family: str  # "integer", "text" or "datetime"
    length: int | None = None


REFERENCE = Type("reference", "integer")  # holds another row's ``id``
SMALLINT = Type("smallint", "integer")
TEXT = Type("text", "text")
LONG_TEXT = Type("long_text", "text")  # up to 16 MiB on MySQL (MEDIUMTEXT)
TIMESTAMP = Type("timestamp", "datetime")  # at millisecond precision (``dialect.utcnow``)


def string(length: int) -> Type:
    """Text of at most ``length`` characters (VARCHAR on MySQL)."""
    return Type("string", "text", length)


def char(length: int) -> Type:
    """Text of exactly ``length`` characters (CHAR on MySQL)."""
    return Type("char", "text", length)


@dataclass(frozen=True)
class Column:
    name: str
    type: Type
    nullable: bool = False
    default: int | str | None = None
    auto_increment: bool = False


# The table's own key, numbered by the database.
ID = Column("id", REFERENCE, auto_increment=True)


@dataclass(frozen=True)
class PrimaryKey:
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False

    @property
    def field(self) -> str:
        """What a duplicate-key error on this key names: its column(s)."""
        return ", ".join(self.columns)


@dataclass(frozen=True)
class ForeignKey:
    name: str
    column: str
    references: str  # a table; the reference is to its ``id``
    on_delete: str = "CASCADE"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[Index, ...] = ()
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()

    @property
    def auto_id(self) -> bool:
        return any(column.auto_increment for column in self.columns)


def column(name: str, type_: Type, *, null: bool = False, default: int | str | None = None):
    return Column(name, type_, nullable=null, default=default)


def primary_key(*columns: str) -> PrimaryKey:
    return PrimaryKey(columns)


def unique(name: str, *columns: str) -> Index:
    return Index(name, columns, unique=True)


def index(name: str, *columns: str) -> Index:
    return Index(name, columns)


def foreign_key(name: str, column: str, references: str, *, on_delete: str = "CASCADE"):
    return ForeignKey(name, column, references, on_delete)


def table(name: str, *parts: Column | PrimaryKey | Index | ForeignKey) -> Table:
    """A table from its columns, then its keys and indexes, checked as it is declared."""
    columns = tuple(part for part in parts if isinstance(part, Column))
    keys = [part.columns for part in parts if isinstance(part, PrimaryKey)]
    keys += [(c.name,) for c in columns if c.auto_increment]
    if len(keys) != 1:
        raise ValueError(f"table {name}: needs exactly one primary key (ID or primary_key())")
    indexes = [part for part in parts if isinstance(part, Index)]
    declared = Table(
        name,
        columns,
        primary_key=keys[0],
        unique=tuple(i for i in indexes if i.unique),
        indexes=tuple(i for i in indexes if not i.unique),
        foreign_keys=tuple(part for part in parts if isinstance(part, ForeignKey)),
    )
    _check(declared)
    return declared


def _check(declared: Table) -> None:
    names = {c.name for c in declared.columns}
    keys = declared.unique + declared.indexes
    used = [*declared.primary_key, *(c for key in keys for c in key.columns)]
    used += [fk.column for fk in declared.foreign_keys]
    unknown = sorted(set(used) - names)
    if unknown:
        raise ValueError(f"table {declared.name}: no column {', '.join(unknown)}")
    # MySQL adds an index of its own for a foreign key no index starts with; SQLite
    # does not: the two schemas would differ, so the index is declared.
    leading = {declared.primary_key[0], *(key.columns[0] for key in keys)}
    for fk in declared.foreign_keys:
        if fk.column not in leading:
            raise ValueError(
                f"table {declared.name}: foreign key {fk.name} needs an index "
                f"that starts with {fk.column}"
            )


@dataclass(frozen=True)
class _Change:
    """One table of a migration, as the yoyo step that creates (or drops) it."""

    table: Table
    direction: str  # "create" or "drop"

    def __call__(self, connection: Any) -> None:
        dialect = dialect_of(connection)
        statements = (
            dialect.create_table(self.table)
            if self.direction == "create"
            else [dialect.drop_table(self.table)]
        )
        cursor = connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()


def migration(*tables: Table) -> None:
    """The tables this migration creates: call it once, at the top of a migration file.

    Each table is one yoyo step, dropped again if a later step fails (MySQL
    commits each CREATE TABLE on its own).
    """
    for created in tables:
        step(_Change(created, "create"), _Change(created, "drop"))


@dataclass(frozen=True)
class _NewColumns:
    """Columns a migration adds to a table an earlier one created, as the yoyo step that
    adds (or drops) them."""

    table: str
    columns: tuple[Column, ...]
    direction: str  # "add" or "drop"

    def __call__(self, connection: Any) -> None:
        dialect = dialect_of(connection)
        cursor = connection.cursor()
        try:
            for added in self.columns:
                if self.direction == "add":
                    cursor.execute(dialect.add_column(self.table, added))
                else:
                    cursor.execute(dialect.drop_column(self.table, added))
        finally:
            cursor.close()


def columns_added(table_name: str, *columns: Column) -> None:
    """The columns this migration adds to ``table_name``, after its existing ones. The
    table's rows get the column's default, so a column needs one or ``null=True``."""
    for added in columns:
        if not added.nullable and added.default is None:
            raise ValueError(
                f"table {table_name}: {added.name}: a column added to a table needs "
                "null=True or a default (the rows already there get it)"
            )
    step(_NewColumns(table_name, columns, "add"), _NewColumns(table_name, columns, "drop"))


@dataclass
class Schema:
    """Every table the migrations create, by name."""

    tables: dict[str, Table] = field(default_factory=dict)

    def add(self, created: Table) -> None:
        if created.name in self.tables:
            raise ValueError(f"table {created.name}: created twice")
        # MariaDB's duplicate-key error names the key alone, not its table.
        taken = {i.name for t in self.tables.values() for i in t.unique}
        clashes = sorted(taken & {i.name for i in created.unique})
        if clashes:
            raise ValueError(
                f"table {created.name}: unique key {', '.join(clashes)} "
                "already names a key of another table"
            )
        self.tables[created.name] = created

    def extend(self, table_name: str, columns: tuple[Column, ...]) -> None:
        known = self.tables.get(table_name)
        if known is None:
            raise ValueError(f"table {table_name}: columns added before it was created")
        clashes = sorted({c.name for c in known.columns} & {c.name for c in columns})
        if clashes:
            raise ValueError(f"table {table_name}: column {', '.join(clashes)} already exists")
        self.tables[table_name] = dataclasses.replace(known, columns=known.columns + columns)

    def unique_key(self, name: str) -> Index | None:
        return next((i for t in self.tables.values() for i in t.unique if i.name == name), None)

    def unique_on(self, table_name: str, columns: tuple[str, ...]) -> Index | None:
        """The unique key of ``table_name`` over exactly ``columns`` (in any order)."""
        found = self.tables.get(table_name)
        keys = found.unique if found else ()
        return next((i for i in keys if sorted(i.columns) == sorted(columns)), None)


class _Collector:
    """Stands in for yoyo's step collector when ``declared()`` reads the migration files."""

    def __init__(self) -> None:
        self.changes: list[Table | _NewColumns] = []

    def add_step(self, apply: Any, rollback: Any = None, ignore_errors: Any = None) -> None:
        if isinstance(apply, _Change) and apply.direction == "create":
            self.changes.append(apply.table)
        elif isinstance(apply, _NewColumns) and apply.direction == "add":
            self.changes.append(apply)


@lru_cache(maxsize=8)
def declared(migrations: Path = MIGRATIONS) -> Schema:
    """The schema the migration files in ``migrations`` build, in their order."""
    schema = Schema()
    for path in sorted(migrations.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"_imflask_migration_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ValueError(f"{path} is not a Python migration")
        module = importlib.util.module_from_spec(spec)
        collector = _Collector()
        module.__yoyo_collector__ = collector  # pyright: ignore[reportAttributeAccessIssue] -- yoyo's own hook
        spec.loader.exec_module(module)
        for change in collector.changes:
            if isinstance(change, Table):
                schema.add(change)
            else:
                schema.extend(change.table, change.columns)
    return schema
