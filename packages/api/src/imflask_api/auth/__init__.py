"""The ``auth`` part of the API: accounts, logging in, the current user, sessions."""

from imflask_api.blueprints import blueprint_of_package

auth = blueprint_of_package("auth", __name__)
