"""Time one borrow + ``SELECT 1`` + return through the SQL pool, and a small transaction.

    uv run python bench/pool.py                       # MariaDB on 127.0.0.1:3306, database test
    uv run python bench/pool.py --uri mysql://user:pw@host:3306/db --n 20000

What a request pays for each ``db.connection()`` block beyond its queries.
"""

from __future__ import annotations

import argparse
import time

from imflask_models.mysql.database import SqlDatabase


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uri", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    db = SqlDatabase(args.uri)

    def borrow() -> None:
        with db.connection() as conn:
            conn.scalar("SELECT 1 AS one")

    def transaction() -> None:
        with db.transaction() as conn:
            conn.scalar("SELECT 1 AS one")

    for name, unit in (("borrow + SELECT 1 + return", borrow), ("transaction", transaction)):
        unit()  # connect outside the timing
        started = time.perf_counter()
        for _ in range(args.n):
            unit()
        micros = (time.perf_counter() - started) / args.n * 1e6
        print(f"{name:28} {micros:7.0f} µs each ({args.n} times)")
    db.close()


if __name__ == "__main__":
    main()
