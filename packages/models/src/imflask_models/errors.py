"""Errors the models raise in place of driver exceptions."""

from imflask_core.errors import StoreUnavailable

__all__ = ["DuplicateKey", "StoreUnavailable"]


class DuplicateKey(Exception):
    """A unique index refused a write; ``field`` names the column or key that clashed."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"duplicate value for {field}")
