"""The Conduit web front-end: server-rendered pages over the same controllers as the API."""

from __future__ import annotations

from flask import Blueprint, Flask

web = Blueprint("web", __name__)


@web.get("/")
def home():
    """The home page (the front-end is being built)."""
    return "<!doctype html><title>Conduit</title><h1>conduit</h1>"


def register_web(app: Flask) -> None:
    app.register_blueprint(web)
