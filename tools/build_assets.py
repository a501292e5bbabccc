"""Writes static/conduit.min.css, the stylesheet the pages link, from conduit.css.

    uv run python tools/build_assets.py           # after every change to conduit.css
    uv run python tools/build_assets.py --check   # exit 1 if conduit.min.css is stale

conduit.css stays the readable source; the minified copy is committed and
shipped in the package, and test_assets.py fails when it is not rcssmin's
output of the source. conduit.js (under 2 KB) is shipped as it is: minifying
it would save a few hundred bytes, less than one compressed packet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rcssmin

STATIC = Path(__file__).resolve().parents[1] / "packages" / "app" / "src" / "imflask_app" / "static"
SOURCE, MINIFIED = STATIC / "conduit.css", STATIC / "conduit.min.css"
HEADER = "/* conduit.css minified by tools/build_assets.py: edit conduit.css, then run it */\n"


def minified(css: str) -> str:
    """What conduit.min.css must hold for ``css``."""
    return HEADER + rcssmin.cssmin(css) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is stale")
    args = parser.parse_args()
    wanted = minified(SOURCE.read_text())
    if args.check:
        current = MINIFIED.read_text() if MINIFIED.exists() else ""
        if current != wanted:
            sys.exit(f"{MINIFIED.name} is stale: run uv run python tools/build_assets.py")
        print(f"{MINIFIED.name} is up to date")
        return
    MINIFIED.write_text(wanted)
    print(f"{MINIFIED.name}: {len(wanted):,} bytes from {SOURCE.stat().st_size:,}")


if __name__ == "__main__":
    main()
