# IMFlask's image: the app (gunicorn, the default command) and the worker (`imflask-worker`)
# from one build. Build it with the CA bundle your machine trusts as a secret, for a build
# behind a TLS-inspecting proxy (it stays out of the image):
#   podman build --format docker --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt -t imflask .
# --format docker keeps the HEALTHCHECK (the OCI format has none). .ci/container builds it on
# a base made from Debian's packages (BASE_IMAGE), starts it and checks it; README: "Container".
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.9
# The base's own Python 3.11 (Debian's /usr/bin/python3.11, or the slim image's
# /usr/local/bin/python3.11), never one uv would download.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# uv from PyPI, through pip, into a venv of its own (the build stage only).
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi; \
    python3.11 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# The dependencies first, from the lock and the members' pyproject.toml alone: this layer is
# rebuilt only when they change, not on every edit of the source.
COPY pyproject.toml uv.lock ./
COPY packages/core/pyproject.toml packages/core/
COPY packages/models/pyproject.toml packages/models/
COPY packages/controllers/pyproject.toml packages/controllers/
COPY packages/api/pyproject.toml packages/api/
COPY packages/app/pyproject.toml packages/app/
COPY packages/worker/pyproject.toml packages/worker/
COPY packages/cluster/pyproject.toml packages/cluster/
RUN --mount=type=secret,id=ca_bundle --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    /opt/uv/bin/uv sync --locked --no-dev --no-install-workspace \
        --package imflask-app --package imflask-worker
# Then the packages themselves, installed as wheels (not editable): the venv needs no /src.
COPY packages packages
RUN --mount=type=secret,id=ca_bundle --mount=type=cache,target=/root/.cache/uv \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi; \
    /opt/uv/bin/uv sync --locked --no-dev --no-editable \
        --package imflask-app --package imflask-worker

FROM ${BASE_IMAGE}
RUN useradd --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin imflask
COPY --from=build /app/.venv /app/.venv
COPY gunicorn.conf.py /app/gunicorn.conf.py
WORKDIR /app
# Production settings come from the environment (compose.yaml's .env, or -e/--env-file):
# nothing secret is in the image. The instance folder is scratch; gunicorn.conf.py makes the
# metrics folder of its own workers (PROMETHEUS_MULTIPROC_DIR) when none is set.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLASK_APP=imflask_app:create_app \
    FLASK_CONFIG=production \
    FLASK_INSTANCE_PATH=/tmp/imflask \
    GUNICORN_BIND=0.0.0.0:8000
USER 10001:10001
EXPOSE 8000
# /healthz on the port GUNICORN_BIND names (the worker's container turns this off).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('GUNICORN_BIND', ':8000').rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]
CMD ["gunicorn", "-c", "/app/gunicorn.conf.py", "imflask_app.wsgi:app"]
