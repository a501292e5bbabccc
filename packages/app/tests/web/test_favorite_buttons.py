"""The article page has two favorite buttons (banner and end of article): they always agree,
whether the script favorites without a reload or the forms post without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from imflask_controllers import articles, users

PASSWORD = "correct horse battery"


@pytest.fixture
def dragons(ctx):
    alice = users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="t"
    )
    author = users.user_by_id(ctx, alice.id)
    return articles.create_article(
        ctx, author=author, title="Dragons", description="d", body="b", tags=[]
    )


def reader_on_the_article(browser_context, slug: str, *, javascript: bool):
    page = browser_context(java_script_enabled=javascript).new_page()
    page.goto("/register")
    page.get_by_placeholder("Username").fill("bob")
    page.get_by_placeholder("Email").fill("bob@example.com")
    page.get_by_placeholder("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status")).to_contain_text("Welcome to Conduit, bob!")
    page.goto(f"/article/{slug}")
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_both_favorite_buttons_agree_after_each_press(browser_context, ctx, dragons, javascript):
    # given bob on alice's article, both buttons saying Favorite Article (0)
    page = reader_on_the_article(browser_context, dragons.slug, javascript=javascript)
    buttons = page.locator("form[data-favorite] button")
    top = page.locator(".banner form[data-favorite] button")
    bottom = page.locator(".article-actions form[data-favorite] button")
    expect(buttons).to_have_count(2)
    expect(buttons).to_have_text(["Favorite Article (0)"] * 2)
    page.evaluate("window.notReloaded = true")

    # when he presses the top one, then both say Unfavorite Article (1)
    top.click()
    expect(buttons).to_have_text(["Unfavorite Article (1)"] * 2)
    assert articles.get_article(ctx, slug=dragons.slug, viewer=None).favorites_count == 1

    # when he presses the bottom one, then both say Favorite Article (0)
    bottom.click()
    expect(buttons).to_have_text(["Favorite Article (0)"] * 2)
    assert articles.get_article(ctx, slug=dragons.slug, viewer=None).favorites_count == 0

    # and the page was reloaded only without the script (the forms posted)
    if javascript:
        assert page.evaluate("window.notReloaded") is True
    else:
        assert page.evaluate("window.notReloaded === undefined")

    # a third press from the top, then a reload: the server's state is what was shown
    top.click()
    expect(buttons).to_have_text(["Unfavorite Article (1)"] * 2)
    page.reload()
    expect(buttons).to_have_text(["Unfavorite Article (1)"] * 2)
