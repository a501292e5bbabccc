"""What every use case needs, built once per process by the app, the CLI or the worker."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

from imflask_core.config import Settings
from imflask_models.stores import Stores


@dataclass
class Context:
    settings: Settings
    stores: Stores
    passwords: PasswordHasher

    @classmethod
    def create(cls, settings: Settings) -> Context:
        """Settings must already name every store (see ``imflask_core.embedded``)."""
        profile = CHEAPEST if settings.hash_profile == "fast" else RFC_9106_LOW_MEMORY
        return cls(
            settings=settings,
            stores=Stores.from_settings(settings),
            passwords=PasswordHasher.from_parameters(profile),
        )

    def close(self) -> None:
        self.stores.close()
