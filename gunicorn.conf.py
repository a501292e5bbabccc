"""Gunicorn settings for production: ``uv run gunicorn imflask_app.wsgi:app``.

Every value can be overridden on the command line or with GUNICORN_* variables
(``GUNICORN_BIND``, ``GUNICORN_WORKERS``, ``GUNICORN_TIMEOUT``).
"""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: one request at a time each; two per core plus one keeps the CPU busy
# while some wait on a store.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30  # SIGTERM: finish the requests in flight, then exit
keepalive = 2
# No max_requests: recycling workers costs a re-import each time and nothing here
# leaks (bench/README.md); add --max-requests if a dependency ever does.
accesslog = None  # the app logs one line per request itself (JSON in production)
errorlog = "-"
# The app is imported in each worker, after the fork: no store client crosses a fork.
preload_app = False

# Prometheus' multiprocess mode: every worker writes its metrics to files in one
# folder and /metrics sums them. It must be set before any worker imports the app.
# Without PROMETHEUS_MULTIPROC_DIR, a temporary folder is made, and removed on exit.
METRICS_PREFIX = "imflask-metrics-"
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=METRICS_PREFIX)


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):  # stale files of a previous run
        os.unlink(os.path.join(folder, name))


def post_fork(server, worker):
    # With preload_app the app (and its lazy store clients) exists before the fork;
    # drop anything inherited so each worker opens its own connections.
    from imflask_models.stores import forget_inherited_clients

    forget_inherited_clients()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    made_here = os.path.dirname(folder) == tempfile.gettempdir()
    if made_here and os.path.basename(folder).startswith(METRICS_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
