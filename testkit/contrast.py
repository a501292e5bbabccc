"""WCAG 2 contrast, and the least darkening of a colour (same hue and saturation) that
reaches a ratio: how the web pages' colours were chosen (docs/web.md, "Accessibility").

``uv run python -m testkit.contrast`` prints the table of colour changes.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

TEXT = 4.5  # WCAG 1.4.3, normal text
LARGE = 3.0  # WCAG 1.4.3 large text (24 px, or 18.66 px bold) and 1.4.11 controls
STEPS = 10_000  # lightness steps searched: 0.01 % each, finer than 8-bit rounding


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """``#5cb85c`` or ``#bbb`` -> (92, 184, 92)."""
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    if len(digits) != 6:
        raise ValueError(f"not a #rgb or #rrggbb colour: {hex_colour!r}")
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def hex_of(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def hex_of_unit(red: float, green: float, blue: float) -> str:
    """Channels from 0 to 1 (colorsys's) -> the nearest #rrggbb."""
    return hex_of((round(red * 255), round(green * 255), round(blue * 255)))


def luminance(hex_colour: str) -> float:
    """Relative luminance, WCAG 2's definition (sRGB, 0.03928 knee as the spec writes it)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(hex_colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(first: str, second: str) -> float:
    """The contrast ratio of two colours, 1 to 21."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def least_darkening(colour: str, background: str, target: float) -> str:
    """``colour`` with its HSL lightness lowered as little as possible (hue and saturation
    kept) so that it reaches ``target`` against ``background``; unchanged if it does."""
    if ratio(colour, background) >= target:
        return colour
    hue, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb(colour)))
    for step in range(1, STEPS + 1):
        darker = colorsys.hls_to_rgb(hue, lightness * (1 - step / STEPS), saturation)
        candidate = hex_of_unit(*darker)
        if ratio(candidate, background) >= target:
            return candidate
    raise ValueError(f"{colour} cannot reach {target}:1 on {background} by darkening")


def least_lightening(colour: str, background: str, target: float) -> str:
    """The same for a colour on a dark background: lightness raised as little as possible."""
    if ratio(colour, background) >= target:
        return colour
    hue, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb(colour)))
    for step in range(1, STEPS + 1):
        lighter = colorsys.hls_to_rgb(hue, lightness + (1 - lightness) * step / STEPS, saturation)
        candidate = hex_of_unit(*lighter)
        if ratio(candidate, background) >= target:
            return candidate
    raise ValueError(f"{colour} cannot reach {target}:1 on {background} by lightening")


@dataclass(frozen=True)
class Change:
    """One colour of conduit.css darkened: where it is used, on what, to what ratio."""

    name: str
    old: str
    background: str
    target: float

    @property
    def new(self) -> str:
        if luminance(self.background) < luminance(self.old):  # a dark background
            return least_lightening(self.old, self.background, self.target)
        return least_darkening(self.old, self.background, self.target)


# Each failing colour against the background where it has the least contrast (the brand
# green is also text on the #f3f3f3 footer, the muted grey on the #f3f3f3 sidebar).
CHANGES = [
    Change("--brand: links, primary buttons, banner (white on it)", "#5cb85c", "#f3f3f3", TEXT),
    Change("--muted: descriptions, empty lists", "#999999", "#f3f3f3", TEXT),
    Change("--light: dates, 'Read more...', footer", "#bbbbbb", "#f3f3f3", TEXT),
    Change("--danger: delete buttons, errors", "#b85c5c", "#ffffff", TEXT),
    Change("navbar links (rgba(0,0,0,.3) on white)", "#b3b3b3", "#ffffff", TEXT),
    Change("feed and profile tabs, outline tags", "#aaaaaa", "#ffffff", TEXT),
    Change("profile bio", "#aaaaaa", "#f3f3f3", TEXT),
    Change("tag pills (white text on it)", "#818a91", "#ffffff", TEXT),
    Change("pagination gap '…'", "#818a91", "#ffffff", TEXT),
    Change("outline secondary buttons (text and border)", "#cccccc", "#ffffff", TEXT),
    Change("profile action button (text and border)", "#999999", "#f3f3f3", TEXT),
    Change("article quote text", "#777777", "#ffffff", TEXT),
    Change("form field borders (a control's edge)", "#d9d9d9", "#ffffff", LARGE),
    # The article banner is dark (#333): there the old colours are lightened, or kept.
    Change("favorite button on the article banner", "#5cb85c", "#333333", TEXT),
    Change("delete button on the article banner", "#b85c5c", "#333333", TEXT),
]


def same_step(old_base: str, old_shade: str, new_base: str) -> str:
    """A hover shade for a darkened colour: ``new_base`` darkened by the factor that made
    ``old_shade`` from ``old_base`` (hue kept), so hover still reads as "darker"."""
    base, shade = (colorsys.rgb_to_hls(*(c / 255 for c in rgb(x))) for x in (old_base, old_shade))
    hue, lightness, saturation = colorsys.rgb_to_hls(*(c / 255 for c in rgb(new_base)))
    darker = colorsys.hls_to_rgb(hue, lightness * shade[1] / base[1], saturation)
    return hex_of_unit(*darker)


BRAND = CHANGES[0]
# The brand's two hover shades (they passed or not, they must stay darker than the brand).
SHADES = {
    "--brand-dark: primary button hover": ("#449d44", same_step(BRAND.old, "#449d44", BRAND.new)),
    "a:hover link colour": ("#3d8b3d", same_step(BRAND.old, "#3d8b3d", BRAND.new)),
}


def table() -> str:
    """The Markdown table of docs/web.md."""
    lines = [
        "| Where | Background | Old | Ratio | New | Ratio |",
        "|---|---|---|---|---|---|",
    ]
    for change in CHANGES:
        lines.append(
            f"| {change.name} | `{change.background}` | `{change.old}` "
            f"| {ratio(change.old, change.background):.2f}:1 | `{change.new}` "
            f"| {ratio(change.new, change.background):.2f}:1 |"
        )
    for name, (old, new) in SHADES.items():
        lines.append(
            f"| {name} (the new brand, darkened as before) | `#ffffff` | `{old}` "
            f"| {ratio(old, '#ffffff'):.2f}:1 | `{new}` | {ratio(new, '#ffffff'):.2f}:1 |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
