"""The ``auth`` part of the API: accounts, logging in and the current user."""

from flask import Blueprint

from imflask_api.auth.users import users
from imflask_api.errors import register_error_handlers

auth = Blueprint("auth", __name__)
auth.register_blueprint(users)
register_error_handlers(auth)
