"""A reader's journeys through Conduit in a real browser (Chromium), on real stores."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from imflask_controllers import articles, users

PASSWORD = "correct horse battery"


def register(ctx, username: str):
    return users.register_user(
        ctx, username=username, email=f"{username}@example.com", password=PASSWORD, client_ip="test"
    )


def test_sign_up_publish_with_tags_see_it_in_the_global_feed_and_under_its_tag(page, conduit):
    conduit.sign_up("alice", "alice@example.com", PASSWORD)

    slug = conduit.publish(
        title="How to train your dragon",
        description="Ever wonder how?",
        body="## Step one\n\nBe **kind** to the dragon.",
        tags="dragons, training",
    )

    expect(page.locator(".article-page .banner h1")).to_have_text("How to train your dragon")
    expect(page.locator(".article-body h3")).to_have_text("Step one")  # "##" under the title's h1
    expect(page.locator(".article-body strong")).to_have_text("kind")
    page.get_by_role("link", name="Home").click()
    preview = page.locator(".article-preview").first
    expect(preview.locator("h2")).to_have_text("How to train your dragon")
    expect(preview.locator(".tag-list li")).to_have_text(["dragons", "training"])
    page.locator(".sidebar").get_by_role("link", name="training").click()
    expect(page.locator(".feed-toggle .nav-link.active")).to_contain_text("training")
    expect(page.locator(".article-preview h2")).to_have_text(["How to train your dragon"])
    page.goto("/?tag=nothing-here")
    expect(page.locator(".article-preview")).to_have_text("No articles are here... yet.")
    page.goto(f"/article/{slug}")
    conduit.sign_out()
    conduit.sign_in("alice@example.com", PASSWORD, "alice")
    conduit.sign_out()
    expect(page.locator(".home-page .banner")).to_contain_text("A place to share your knowledge.")


def test_favorite_follow_feed_and_comments_from_another_account(page, conduit, ctx):
    alice = register(ctx, "alice")
    author = users.user_by_id(ctx, alice.id)
    article = articles.create_article(
        ctx, author=author, title="Dragons", description="d", body="b", tags=["dragons"]
    )
    conduit.sign_up("bob", "bob@example.com", PASSWORD)

    page.goto(f"/article/{article.slug}")
    page.evaluate("window.notReloaded = true")
    favorite = page.locator(".banner form[data-favorite] button")
    favorite.click()
    expect(favorite).to_contain_text("Unfavorite Article")
    expect(favorite.locator(".counter")).to_have_text("(1)")
    assert page.evaluate("window.notReloaded") is True  # favorited without a reload
    page.locator(".banner").get_by_role("button", name="Follow alice").click()
    expect(page.locator(".banner").get_by_role("button", name="Unfollow alice")).to_be_visible()
    page.get_by_role("link", name="Home").click()
    page.get_by_role("link", name="Your Feed").click()
    expect(page.locator(".article-preview h2")).to_have_text(["Dragons"])
    expect(page.locator(".article-preview .counter")).to_have_text("1")
    page.goto("/profile/bob/favorites")
    expect(page.locator(".article-preview h2")).to_have_text(["Dragons"])

    page.goto(f"/article/{article.slug}")
    page.get_by_placeholder("Write a comment...").fill("Great read,\nthank you!")
    page.get_by_role("button", name="Post Comment").click()
    comment = page.locator(".card.comment")
    expect(comment.locator(".card-text")).to_have_text("Great read,\nthank you!")
    expect(comment.locator(".comment-author").last).to_have_text("bob")
    comment.get_by_role("button", name="Delete comment").click()
    expect(page.locator(".card.comment")).to_have_count(0)
    assert articles.get_article(ctx, slug=article.slug, viewer=None).favorites_count == 1


def test_the_author_edits_then_deletes_the_article(page, conduit, ctx):
    conduit.sign_up("alice", "alice@example.com", PASSWORD)
    slug = conduit.publish(title="First title", description="d", body="old body", tags="a, b")

    page.get_by_role("link", name="Edit Article").first.click()
    expect(page.get_by_placeholder("Enter tags, separated by commas")).to_have_value("a, b")
    conduit.fill_editor(title="Second title", body="new *body*", tags="b, c")
    page.get_by_role("button", name="Update Article").click()

    page.wait_for_url(re.compile(r"/article/second-title"))
    expect(page.locator(".article-body em")).to_have_text("body")
    expect(page.locator(".article-content .tag-list li")).to_have_text(["b", "c"])
    page.get_by_role("button", name="Delete Article").first.click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(".article-preview")).to_have_text("No articles are here... yet.")
    assert articles.list_articles(ctx, viewer=None).total == 0
    assert page.goto(f"/article/{slug}").status == 404
    conduit.sign_out()


def test_a_signed_out_reader_is_sent_to_sign_in_and_back(page, conduit, ctx):
    register(ctx, "alice")

    page.goto("/editor")
    page.get_by_placeholder("Email").fill("alice@example.com")
    page.get_by_placeholder("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(re.compile(r"/editor$"))
    expect(page.get_by_role("button", name="Publish Article")).to_be_visible()
