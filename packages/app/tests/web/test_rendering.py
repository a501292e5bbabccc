"""Markdown rendering and sanitising, pagination arithmetic and the shipped static files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import imflask_app
from imflask_app.web.pagination import Pagination
from imflask_app.web.rendering import render_article_body, render_markdown

PACKAGE = Path(imflask_app.__file__).parent
STATIC = PACKAGE / "static"


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="javascript:alert(1)">x</a>',
        "![x](javascript:alert(1))",
        '<iframe src="https://example.com"></iframe>',
        "<svg onload=alert(1)>",
    ],
)
def test_hostile_markdown_comes_out_inert(markdown):
    html = str(render_markdown(markdown))

    assert "<script" not in html
    assert "<iframe" not in html
    assert "<svg" not in html
    assert not re.search(r"<[^>]+\son\w+=", html)
    assert not re.search(r"<[^>]+\s(href|src)=\"(javascript|vbscript|data):", html, re.IGNORECASE)


def test_markdown_keeps_formatting_and_marks_links():
    html = str(render_markdown("# Title\n\n**bold** [site](https://example.com)\n\n- one"))

    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">site</a>' in html
    assert "<li>one</li>" in html


def test_an_article_body_starts_its_headings_at_h2_and_its_code_blocks_take_the_focus():
    html = str(render_article_body("# One\n\n## Two\n\n###### Six\n\n```\n<pre>x\n```"))

    assert "<h2>One</h2>" in html
    assert "<h3>Two</h3>" in html
    assert "<h6>Six</h6>" in html
    assert "<h1" not in html
    assert html.count("<pre") == 1
    assert '<pre tabindex="0" role="group" aria-label="Code example"><code>&lt;pre&gt;x' in html


def test_sanitiser_drops_attributes_outside_the_allow_list():
    html = str(render_markdown('![alt](https://example.com/x.png "title")'))

    assert html.strip() == ('<p><img src="https://example.com/x.png" alt="alt" title="title"></p>')


def test_pagination_shows_every_page_when_few_and_a_window_when_many():
    assert Pagination(1, 100).numbers() == list(range(1, 11))
    assert Pagination(1, 0).pages == 1
    assert Pagination(50, 10_000).numbers() == [1, None, 48, 49, 50, 51, 52, None, 1000]
    assert Pagination(2, 10_000).numbers() == [1, 2, 3, 4, None, 1000]


def test_static_files_are_small_and_every_referenced_file_exists():
    total = sum(path.stat().st_size for path in STATIC.rglob("*") if path.is_file())
    css = (STATIC / "conduit.css").read_text()

    assert total < 1_000_000
    for url in re.findall(r"url\(\"([^\"]+)\"\)", css):
        assert (STATIC / url).is_file(), url
    assert (STATIC / "icons" / "LICENSE-ionicons.txt").is_file()
    assert len(list((STATIC / "fonts").glob("LICENSE-*.txt"))) == 3


def test_no_template_or_static_file_loads_anything_from_another_host():
    texts = [p.read_text() for p in [*PACKAGE.glob("templates/*.html"), *STATIC.glob("*.[cj]s*")]]

    for text in texts:
        assert not re.search(r"(src|href)=\"(https?:)?//", text)
        assert not re.search(r"url\(\"?(https?:)?//", text)
