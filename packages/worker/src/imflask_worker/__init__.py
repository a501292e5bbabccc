"""IMFlask worker: background jobs over the controllers and models, without Flask.

Nothing here may import Flask, Werkzeug, ``imflask_api`` or ``imflask_app``
(``.importlinter`` checks it, and a test imports this package in a fresh
interpreter and finds no Flask in ``sys.modules``).
"""
