"""The ``auth`` part of the API: accounts, logging in, the current user, sessions."""

from flask import Blueprint

from imflask_api.auth.sessions import sessions
from imflask_api.auth.users import users
from imflask_api.errors import register_error_handlers

auth = Blueprint("auth", __name__)
auth.register_blueprint(users)
auth.register_blueprint(sessions)
register_error_handlers(auth)
