"""The yardstick: the smallest Flask app, served with the same server settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return {"hello": "world"}


# HAProxy's checks, so that bench/mixed.py can put the same front door before hello.
@app.get("/healthz")
@app.get("/readyz")
def ready():
    return {"status": "ok"}
