"""Page numbers in the query string (``?page=3``) to the controllers' limit and offset."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

PER_PAGE = 10
MAX_PAGE = 10_000_000  # keeps the offset inside the controllers' bound


@dataclass(frozen=True)
class Pagination:
    page: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def numbers(self, around: int = 2) -> list[int | None]:
        """Page links to show: first, last and a window around the current page; None is
        a gap ("...")."""
        if self.pages <= 2 * around + 7:  # few pages: all of them
            return list(range(1, self.pages + 1))
        shown = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers: list[int | None] = []
        for number in sorted(n for n in shown if 1 <= n <= self.pages):
            if numbers and number - (numbers[-1] or 0) > 1:
                numbers.append(None)
            numbers.append(number)
        return numbers


def requested_page() -> int:
    """``?page=`` as a number from 1; anything else is page 1."""
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


def limit_offset(page: int, per_page: int = PER_PAGE) -> dict[str, int]:
    return {"limit": per_page, "offset": (page - 1) * per_page}
