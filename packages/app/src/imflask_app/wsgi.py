"""The WSGI entry point: ``gunicorn imflask_app.wsgi:app``."""

from imflask_app import create_app

app = create_app()
