"""Gunicorn settings for production: ``uv run gunicorn imflask_app.wsgi:app``.

Every value can be overridden on the command line or with GUNICORN_* variables
(``GUNICORN_BIND``, ``GUNICORN_WORKERS``, ``GUNICORN_TIMEOUT``).
"""

import errno
import html
import multiprocessing
import os
import shutil
import tempfile
import time

import gunicorn.util
from gunicorn.workers.sync import SyncWorker

from imflask_core import tracing

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: one request at a time each; two per core plus one keeps the CPU busy
# while some wait on a store.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# worker_class: gunicorn's sync worker with a graceful SIGTERM, OverlappingSyncWorker below.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM: answer the requests in flight and those already queued, accepting nothing new after
# half of it; a reload's old workers serve for at most half of it while the new ones boot.
graceful_timeout = 30
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

# Tracing (OTEL_EXPORTER_OTLP_ENDPOINT): each worker starts its own span exporter after the
# fork (post_worker_init); the master, which imports the app only with --preload, exports
# nothing.
tracing.hold_exporter_until_fork()


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):  # stale files of a previous run
        os.unlink(os.path.join(folder, name))


def pre_fork(server, worker):
    worker.reload_board = _reload_board(server)


def on_reload(server):
    # Runs in the master on SIGHUP, before it forks the new workers and SIGTERMs the old ones.
    _reload_board(server).begin(server)


def post_fork(server, worker):
    # With preload_app the app (and its lazy store clients) exists before the fork;
    # drop anything inherited so each worker opens its own connections.
    from imflask_models.stores import forget_inherited_clients

    forget_inherited_clients()


def post_worker_init(worker):
    # The exporter's thread starts here, in the worker, once it has set its signal handlers,
    # not in post_fork: started there, a preloaded worker often ignored SIGTERM until the
    # master's graceful timeout killed it (30 s to stop instead of 3, 3 times in 4).
    tracing.start_exporter()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    made_here = os.path.dirname(folder) == tempfile.gettempdir()
    if made_here and os.path.basename(folder).startswith(METRICS_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


# --- signals: what SIGTERM means to a worker -------------------------------------------------


class ReloadBoard:
    """What a reload's old workers need to know, shared by the master and every worker.

    Shared memory made by the master before its first fork and kept on the arbiter, so it
    outlives the re-reading of this file on each SIGHUP. No lock: a lock held by a worker that
    is SIGKILLed would hang the master; each slot has one writer, and an aligned 64-bit word is
    read and written whole.
    """

    SLOTS = 1024  # ring of loaded workers' ages, by age: far more than one reload forks

    def __init__(self):
        # [the last old worker's age, how many new workers to wait for, ring...]; worker ages
        # grow by one per fork, so "old" is "age <= the first number".
        self._words = multiprocessing.RawArray("q", 2 + self.SLOTS)
        self._words[0] = -1

    def begin(self, server):
        """In the master: the workers forked so far are about to be replaced."""
        self._words[1] = server.cfg.workers
        self._words[0] = server.worker_age

    def loaded(self, worker):
        """In a worker: its app is imported and it is about to serve."""
        self._words[2 + worker.age % self.SLOTS] = worker.age

    def replacing(self, worker):
        """Is this worker an old one whose replacements are still importing the app?"""
        last_old_age, wanted = self._words[0], self._words[1]
        if worker.age > last_old_age:
            return False
        loaded = sum(1 for age in self._words[2:] if age > last_old_age)
        return loaded < wanted


def _reload_board(server):
    if not hasattr(server, "imflask_reload_board"):
        server.imflask_reload_board = ReloadBoard()
    return server.imflask_reload_board


class OverlappingSyncWorker(SyncWorker):
    """gunicorn's sync worker, with two changes to what SIGTERM does.

    - Before exiting, a worker also answers the connections waiting in the accept queue: the
      listening socket closes with the last process holding it, and the kernel resets every
      connection still queued at that moment (stock gunicorn finishes only the request in hand).
    - On a reload (SIGHUP) the master SIGTERMs the old workers as soon as it has forked the new
      ones, which need seconds to import the app; an old worker keeps serving until they have
      all loaded it. A second SIGTERM (a shutdown during the reload) ends that wait at once.

    Both are bounded: nothing is accepted later than half the graceful timeout after the first
    SIGTERM, which leaves the other half for the last request before the master's SIGKILL.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sigterm_at = None  # monotonic time of the first SIGTERM

    def handle_exit(self, sig, frame):
        # A signal handler: only note the time; notify() (the run loop) decides.
        if self.sigterm_at is not None:
            self.alive = False
        else:
            self.sigterm_at = time.monotonic()

    def notify(self):
        super().notify()
        if self.sigterm_at is not None and self.alive and not self._replacements_booting():
            self.alive = False

    def wait(self, timeout):
        # While replacements boot, look at the board every 0.1 s instead of every timeout / 2.
        return super().wait(0.1 if self.sigterm_at is not None else timeout)

    def run(self):
        self.reload_board.loaded(self)
        super().run()
        if self.sigterm_at is not None:
            self._answer_queued_connections()

    def _accept_deadline(self):
        return self.sigterm_at + self.cfg.graceful_timeout / 2

    def _replacements_booting(self):
        return time.monotonic() < self._accept_deadline() and self.reload_board.replacing(self)

    def _answer_queued_connections(self):
        answered = 0
        for listener in self.sockets:  # non-blocking: accept() fails once the queue is empty
            while time.monotonic() < self._accept_deadline():
                super().notify()
                try:
                    self.accept(listener)
                except BlockingIOError:
                    break
                except OSError as error:
                    if error.errno != errno.ECONNABORTED:  # a client that gave up
                        raise
                else:
                    answered += 1
        if answered:
            self.log.info(
                "Worker %s answered %d queued connection(s) before exiting", self.pid, answered
            )


worker_class = OverlappingSyncWorker


def _write_error(sock, status_int, reason, mesg):
    """gunicorn's own answer to a request it cannot parse (a bad request line, header or
    chunk), which never reaches the app, with the pages' security headers added."""
    from imflask_app.web.templating import CONTENT_SECURITY_POLICY

    page = (
        f"<html><head><title>{html.escape(reason)}</title></head>"
        f"<body><h1>{html.escape(reason)}</h1>{html.escape(mesg)}</body></html>"
    ).encode("latin1", "replace")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: text/html\r\nContent-Length: {len(page)}\r\n"
        f"Content-Security-Policy: {CONTENT_SECURITY_POLICY}\r\n"
        "X-Content-Type-Options: nosniff\r\n\r\n"
    ).encode("latin1")
    gunicorn.util.write_nonblock(sock, head + page)


gunicorn.util.write_error = _write_error  # looked up by name in gunicorn's workers
