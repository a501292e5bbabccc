"""A part of the API made of its package's modules: one resource a module, none listed by hand.

Each resource module ``x`` of the package (``imflask_api.v1.bookmarks``, say) defines its
blueprint under the module's own name (``bookmarks = Blueprint("bookmarks", __name__)``);
``blueprint_of_package`` imports every module, in name order, and registers those
blueprints on one. Adding a resource is adding its module: there is no list to keep.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint

from imflask_api.errors import register_error_handlers


def resource_blueprints(package: str) -> list[Blueprint]:
    """The blueprint each module of ``package`` defines under its own name, in name order.

    A module that defines no blueprint is a helper and is passed over; one that defines a
    blueprint under another name, or more than one, is refused by name.
    """
    found = []
    for info in sorted(pkgutil.iter_modules(importlib.import_module(package).__path__)):
        module = importlib.import_module(f"{package}.{info.name}")
        defined = {
            name: value
            for name, value in vars(module).items()
            if isinstance(value, Blueprint) and value.import_name == module.__name__
        }
        if not defined:
            continue
        if list(defined) != [info.name]:
            raise TypeError(
                f"{module.__name__} defines the blueprint(s) {sorted(defined)}; a resource"
                f" module defines one, named after it: `{info.name} = Blueprint(...)`"
            )
        found.append(defined[info.name])
    return found


def blueprint_of_package(name: str, package: str) -> Blueprint:
    """One blueprint, ``name``, with every resource module of ``package`` and the API's
    error handlers."""
    parent = Blueprint(name, package)
    for resource in resource_blueprints(package):
        parent.register_blueprint(resource)
    register_error_handlers(parent)
    return parent
