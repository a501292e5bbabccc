"""The size-adjusted fallback faces of conduit.css, computed from the real fonts' metrics.

    apt-get install fonts-liberation            # Liberation Sans/Serif: Arial's, Times' metrics
    uv run python tools/font_metrics.py         # print the @font-face block
    uv run python tools/font_metrics.py --write # replace it in conduit.css (then build_assets.py)

Each web font gets a fallback face over a local font with Arial's (or Times New
Roman's) metrics, the ones most systems have: Arial, Liberation Sans, Arimo
share their advance widths and vertical metrics, as Times New Roman, Liberation
Serif and Tinos do. ``size-adjust`` scales the fallback so that English text
is as wide as in the web font (advance widths weighted by letter frequency),
and ``ascent-override``/``descent-override``/``line-gap-override`` give it the
web font's vertical metrics (hhea, which Chromium and Firefox use), divided by
``size-adjust`` since the browser scales them too. Only the numbers are
committed, in conduit.css between the two marker comments.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "packages" / "app" / "src" / "imflask_app" / "static"
CSS = STATIC / "conduit.css"
LIBERATION = Path("/usr/share/fonts/truetype/liberation")
BEGIN = "/* Fallback faces: tools/font_metrics.py (do not edit by hand) */"
END = "/* End of the fallback faces */"

# English letter frequencies (per cent; a space is ~1 character in 5.5), for an average width
# of running text rather than of the alphabet.
FREQUENCIES = {
    " ": 18.0, "e": 10.2, "t": 7.5, "a": 6.7, "o": 6.2, "i": 5.7, "n": 5.7, "s": 5.3,
    "h": 5.0, "r": 5.0, "d": 3.5, "l": 3.3, "u": 2.3, "c": 2.3, "m": 2.0, "w": 1.9,
    "f": 1.8, "g": 1.6, "y": 1.6, "p": 1.6, "b": 1.2, "v": 0.8, "k": 0.6, "x": 0.1,
    "j": 0.1, "q": 0.1, "z": 0.1,
}  # fmt: skip

ARIAL = ["Arial", "ArialMT", "Liberation Sans", "LiberationSans", "Arimo"]
ARIAL_BOLD = ["Arial Bold", "Arial-BoldMT", "Liberation Sans Bold", "LiberationSans-Bold",
              "Arimo Bold", "Arimo-Bold"]  # fmt: skip
TIMES = ["Times New Roman", "TimesNewRomanPSMT", "Liberation Serif", "LiberationSerif", "Tinos"]
TIMES_BOLD = ["Times New Roman Bold", "TimesNewRomanPS-BoldMT", "Liberation Serif Bold",
              "LiberationSerif-Bold", "Tinos Bold", "Tinos-Bold"]  # fmt: skip


@dataclass(frozen=True)
class Face:
    family: str  # the fallback family conduit.css names after the web font
    weight: str  # the font-weight range it stands in for
    web_font: str  # in static/fonts/
    fallback: str  # in LIBERATION, metric-compatible with ``local_names``
    local_names: list[str]


FACES = [
    Face("Titillium Web fallback", "100 1000", "titillium-web-latin-700-normal.woff2",
         "LiberationSans-Bold.ttf", ARIAL_BOLD),
    Face("Source Sans 3 fallback", "100 500", "source-sans-3-latin-400-normal.woff2",
         "LiberationSans-Regular.ttf", ARIAL),
    Face("Source Sans 3 fallback", "600 1000", "source-sans-3-latin-700-normal.woff2",
         "LiberationSans-Bold.ttf", ARIAL_BOLD),
    Face("Source Serif 4 fallback", "100 500", "source-serif-4-latin-400-normal.woff2",
         "LiberationSerif-Regular.ttf", TIMES),
    Face("Source Serif 4 fallback", "600 1000", "source-serif-4-latin-700-normal.woff2",
         "LiberationSerif-Bold.ttf", TIMES_BOLD),
]  # fmt: skip


def average_width(font: TTFont) -> float:
    """The letter-frequency-weighted advance width of ``font``, in ems."""
    cmap, advances = font.getBestCmap(), font["hmtx"].metrics
    total = sum(advances[cmap[ord(char)]][0] * share for char, share in FREQUENCIES.items())
    return total / sum(FREQUENCIES.values()) / font["head"].unitsPerEm


def font_face(face: Face) -> str:
    web, fallback = TTFont(STATIC / "fonts" / face.web_font), TTFont(LIBERATION / face.fallback)
    size_adjust = average_width(web) / average_width(fallback)
    em, hhea = web["head"].unitsPerEm, web["hhea"]

    def share(value: int) -> str:
        return f"{abs(value) / em / size_adjust * 100:.2f}%"

    sources = ", ".join(f'local("{name}")' for name in face.local_names)
    return (
        f'@font-face {{ font-family: "{face.family}"; font-weight: {face.weight};\n'
        f"  src: {sources};\n"
        f"  size-adjust: {size_adjust * 100:.2f}%; ascent-override: {share(hhea.ascent)};"
        f" descent-override: {share(hhea.descent)}; line-gap-override: {share(hhea.lineGap)}; }}"
    )


def block() -> str:
    return "\n".join([BEGIN, *(font_face(face) for face in FACES), END])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="replace the block in conduit.css")
    args = parser.parse_args()
    missing = sorted({f.fallback for f in FACES if not (LIBERATION / f.fallback).is_file()})
    if missing:
        sys.exit(f"{LIBERATION} lacks {missing}: apt-get install fonts-liberation")
    text = block()
    if not args.write:
        print(text)
        return
    css = CSS.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(css):
        sys.exit(f"{CSS} has no block between {BEGIN!r} and {END!r}")
    CSS.write_text(pattern.sub(lambda _: text, css))
    print(f"wrote {len(FACES)} fallback faces into {CSS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
