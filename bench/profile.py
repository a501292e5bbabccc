"""Profile one endpoint in-process with pyinstrument, on a seeded data set.

    uv run --group bench python bench/profile.py /api/articles?limit=20
    uv run --group bench python bench/profile.py /api/articles/feed --auth --requests 2000
    uv run --group bench python bench/profile.py '/api/articles/{slug}'  # a seeded article

Builds the app on fresh embedded stores in a temporary folder (or on the
servers named by FLASK_MYSQL_URI / FLASK_REDIS_URL), seeds it, sends the
requests through Flask's test client and prints where the time went.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "path", help="the URL path and query, e.g. /api/tags or /api/articles/{slug}"
    )
    parser.add_argument("--auth", action="store_true", help="send a seeded user's token")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="imflask-profile-"))
    os.environ.update(
        FLASK_CONFIG="development",
        FLASK_INSTANCE_PATH=str(workdir / "instance"),
        FLASK_LOG_LEVEL="WARNING",
        FLASK_RATE_LIMIT_AUTH="100000000/60",
        FLASK_RATE_LIMIT_WRITES="100000000/60",
    )
    from imflask_app import create_app
    from imflask_app.factory import context_of
    from imflask_controllers import seeding
    from imflask_controllers import users as accounts

    try:
        app = create_app()
        ctx = context_of(app)
        seeding.seed(ctx, seeding.SeedPlan(users=args.users, articles=args.articles))
        headers = {}
        with ctx.stores.sql.connection() as conn:
            email = conn.scalar("SELECT email FROM users ORDER BY id LIMIT 1")
            slug = conn.scalar("SELECT slug FROM articles ORDER BY id LIMIT 1")
            username = conn.scalar("SELECT username FROM users ORDER BY id LIMIT 1")
        path = args.path.format(slug=slug, username=username)
        if args.auth:
            token = accounts.log_in(
                ctx, email=email, password=seeding.SEED_PASSWORD, client_ip="bench"
            ).token
            headers["Authorization"] = f"Token {token}"
        client = app.test_client()
        for _ in range(50):  # warm caches and pools
            assert client.get(path, headers=headers).status_code == 200
        profiler = Profiler(interval=0.0002)
        with profiler:
            for _ in range(args.requests):
                client.get(path, headers=headers)
        print(
            profiler.output_text(
                unicode=True, color=False, show_all=os.environ.get("PROFILE_ALL") == "1"
            )
        )
        ctx.close()
    finally:
        subprocess.run(
            [str(Path(sys.executable).parent / "flask"), "embedded", "stop"],
            cwd=ROOT,
            capture_output=True,
            env=os.environ,
        )
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
