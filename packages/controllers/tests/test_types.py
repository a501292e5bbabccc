"""The controllers' boundary: what their public functions return is theirs, never a model's.

The API, the pages and the worker get the controllers' own frozen dataclasses
(``users.User`` has no password hash); the models' rows stay below.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import typing

import imflask_controllers
from imflask_controllers.context import Context


def controller_modules():
    for info in pkgutil.iter_modules(imflask_controllers.__path__):
        yield importlib.import_module(f"imflask_controllers.{info.name}")


def public_functions():
    for module in controller_modules():
        for name, function in vars(module).items():
            if (
                inspect.isfunction(function)
                and function.__module__ == module.__name__
                and not name.startswith("_")
            ):
                yield f"{module.__name__}.{name}", function


def classes_in(hint, seen=None):
    """Every class a type hint names, through unions, generics and dataclass fields
    (not into ``Context``: the use cases' dependencies, which hold the stores by design)."""
    seen = set() if seen is None else seen
    if isinstance(hint, type) and hint not in seen:
        seen.add(hint)
        yield hint
        if dataclasses.is_dataclass(hint) and hint is not Context:
            for field_type in typing.get_type_hints(hint).values():
                yield from classes_in(field_type, seen)
    for argument in typing.get_args(hint):  # X | None, list[X], tuple[X, Y], ...
        yield from classes_in(argument, seen)


def test_no_public_controller_function_returns_a_model_type():
    # given every public function of every controller module
    leaks = []
    for name, function in public_functions():
        # when its return type is followed into every class it names
        returned = typing.get_type_hints(function).get("return")
        for cls in classes_in(returned):
            # then none of them is defined in imflask_models
            if cls.__module__.startswith("imflask_models"):
                leaks.append(f"{name} -> {cls.__module__}.{cls.__qualname__}")

    assert leaks == []


def test_the_walk_finds_a_model_type_where_there_is_one():
    # the check above can fail: a return type naming a row is found, nested or not
    from imflask_models.mysql.users import UserRow

    found = {cls.__name__ for cls in classes_in(list[UserRow] | None)}

    assert "UserRow" in found


def test_the_user_the_controllers_hand_out_has_no_password_hash_field():
    from imflask_controllers.users import AuthenticatedUser, Identity, User

    for cls in (User, AuthenticatedUser, Identity):
        assert not any("password" in field.name for field in dataclasses.fields(cls))
