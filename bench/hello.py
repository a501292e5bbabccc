"""The yardstick: the smallest Flask app, served with the same server settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return {"hello": "world"}
