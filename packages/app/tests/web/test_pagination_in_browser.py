"""A hundred articles, ten to a page, every one reachable through the page links."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from imflask_controllers import articles, users


@pytest.fixture
def hundred_articles(ctx):
    author = users.register_user(
        ctx,
        username="prolific",
        email="prolific@example.com",
        password="password123",
        client_ip="test",
    )
    row = users.user_by_id(ctx, author.id)
    for number in range(1, 101):
        articles.create_article(
            ctx,
            author=row,
            title=f"Article {number}",
            description=f"Number {number}",
            body="body",
            tags=["many"] if number % 2 else ["many", "even"],
        )


def test_a_hundred_articles_paginate_ten_to_a_page(page, hundred_articles):
    page.goto("/")
    previews = page.locator(".article-preview h2")
    links = page.locator(".pagination .page-link")

    expect(previews).to_have_count(10)
    expect(previews.first).to_have_text("Article 100")
    expect(links).to_have_text([str(n) for n in range(1, 11)])
    expect(page.locator(".pagination .active")).to_have_text("1")
    seen = previews.all_inner_texts()
    for number in range(2, 11):
        links.get_by_text(str(number), exact=True).click()
        expect(page.locator(".pagination .active")).to_have_text(str(number))
        seen += previews.all_inner_texts()

    assert sorted(seen) == sorted(f"Article {n}" for n in range(1, 101))
    expect(previews.last).to_have_text("Article 1")
    page.goto("/?tag=even&page=5")
    expect(previews).to_have_text([f"Article {n}" for n in range(20, 0, -2)])
    expect(links).to_have_text([str(n) for n in range(1, 6)])
    page.goto("/profile/prolific?page=3")
    expect(previews.first).to_have_text("Article 80")
