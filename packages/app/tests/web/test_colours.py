"""The pages' colours reach WCAG AA contrast: each changed colour of conduit.css is the
least darkening (or, on the dark banner, lightening) of Conduit's that passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.contrast import (
    CHANGES,
    SHADES,
    TEXT,
    least_darkening,
    least_lightening,
    ratio,
)

CSS = (Path(__file__).parents[2] / "src" / "imflask_app" / "static" / "conduit.css").read_text()


def test_contrast_is_wcag_s_ratio():
    # WCAG's own reference points: black on white is 21:1, #767676 the lightest grey at 4.5:1
    assert ratio("#000", "#fff") == pytest.approx(21)
    assert ratio("#767676", "#ffffff") >= TEXT > ratio("#777777", "#ffffff")
    assert ratio("#5cb85c", "#fff") == pytest.approx(2.48, abs=0.01)  # the "2.5:1"


def test_the_least_darkening_is_the_last_step_that_passes():
    darker = least_darkening("#5cb85c", "#ffffff", TEXT)
    lighter = least_lightening("#b85c5c", "#333333", TEXT)

    assert ratio(darker, "#ffffff") >= TEXT
    assert ratio(lighter, "#333333") >= TEXT
    # one unit back in each channel toward the original fails again
    back = "#{:02x}{:02x}{:02x}".format(*(int(darker[i : i + 2], 16) + 1 for i in (1, 3, 5)))
    assert ratio(back, "#ffffff") < TEXT


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.name)
def test_each_changed_colour_failed_before_passes_now_and_is_in_the_stylesheet(change):
    assert ratio(change.new, change.background) >= change.target
    if change.new != change.old:
        assert ratio(change.old, change.background) < change.target
    assert change.new in CSS


def test_the_brand_s_hover_shades_stay_darker_than_the_brand():
    brand = CHANGES[0].new
    for _, new in SHADES.values():
        assert new in CSS
        assert ratio(new, "#ffffff") > ratio(brand, "#ffffff") >= TEXT
