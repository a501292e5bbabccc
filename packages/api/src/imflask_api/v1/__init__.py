"""The ``v1`` part of the API: the Conduit resources, one module each (``blueprints``)."""

from imflask_api.blueprints import blueprint_of_package

v1 = blueprint_of_package("v1", __name__)
