"""Response shapes of the RealWorld objects, built from the controllers' plain data."""

from __future__ import annotations

from typing import Any


def user_json(user: Any) -> dict[str, Any]:
    return {
        "user": {
            "email": user.email,
            "token": user.token,
            "username": user.username,
            "bio": user.bio,
            "image": user.image,
        }
    }
