"""IMFlask app: the composition root. ``create_app()`` wires every layer together."""

from imflask_app.factory import create_app

__all__ = ["create_app"]
