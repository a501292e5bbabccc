"""Profiles, comments and tags through HTTP."""

from __future__ import annotations

import pytest


def test_a_profile_is_public_and_not_followed_by_anonymous(client, sign_up):
    sign_up("jake")

    response = client.get("/api/profiles/jake")

    assert response.status_code == 200
    assert response.get_json() == {
        "profile": {"username": "jake", "bio": None, "image": None, "following": False}
    }


def test_following_and_unfollowing_show_in_the_profile(client, sign_up):
    sign_up("jake")
    anne = sign_up("anne")

    followed = client.post("/api/profiles/jake/follow", headers=anne.headers)
    again = client.post("/api/profiles/jake/follow", headers=anne.headers)
    seen = client.get("/api/profiles/jake", headers=anne.headers)
    unfollowed = client.delete("/api/profiles/jake/follow", headers=anne.headers)

    assert followed.status_code == again.status_code == 200
    assert followed.get_json()["profile"]["following"] is True
    assert seen.get_json()["profile"]["following"] is True
    assert unfollowed.get_json()["profile"]["following"] is False
    assert (
        client.get("/api/profiles/jake", headers=anne.headers).get_json()["profile"]["following"]
        is False
    )


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_profile_is_404(client, sign_up, method):
    anne = sign_up("anne")
    path = "/api/profiles/nobody" + ("" if method == "get" else "/follow")

    response = getattr(client, method)(path, headers=anne.headers)

    assert response.status_code == 404
    assert response.get_json() == {"errors": {"profile": ["not found"]}}


def test_you_cannot_follow_yourself(client, sign_up):
    jake = sign_up("jake")

    response = client.post("/api/profiles/jake/follow", headers=jake.headers)

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"username": ["is you; you cannot follow yourself"]}}


@pytest.mark.parametrize("method", ["post", "delete"])
def test_following_needs_a_token(client, sign_up, method):
    sign_up("jake")

    assert getattr(client, method)("/api/profiles/jake/follow").status_code == 401


def comment(client, account, slug, body="His name was my name too."):
    return client.post(
        f"/api/articles/{slug}/comments", headers=account.headers, json={"comment": {"body": body}}
    )


def test_adding_a_comment_returns_200_with_it(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]

    response = comment(client, anne, slug)

    assert response.status_code == 200
    created = response.get_json()["comment"]
    assert isinstance(created["id"], int)
    assert created["body"] == "His name was my name too."
    assert created["author"]["username"] == "anne"
    assert created["createdAt"].endswith("Z")


def test_comments_are_listed_newest_first_for_anyone(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    ids = [
        comment(client, anne, slug, f"comment {i}").get_json()["comment"]["id"] for i in range(3)
    ]
    client.post("/api/profiles/anne/follow", headers=jake.headers)

    anonymous = client.get(f"/api/articles/{slug}/comments")
    as_jake = client.get(f"/api/articles/{slug}/comments", headers=jake.headers)

    assert anonymous.status_code == 200
    assert [c["id"] for c in anonymous.get_json()["comments"]] == ids[::-1]
    assert ids == sorted(ids)
    assert anonymous.get_json()["comments"][0]["author"]["following"] is False
    assert as_jake.get_json()["comments"][0]["author"]["following"] is True


def test_only_the_comments_author_may_delete_it(client, sign_up, publish):
    jake, anne = sign_up("jake"), sign_up("anne")
    slug = publish(jake)["slug"]
    comment_id = comment(client, anne, slug).get_json()["comment"]["id"]

    by_jake = client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=jake.headers)
    by_anne = client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=anne.headers)

    assert by_jake.status_code == 403
    assert by_jake.get_json() == {"errors": {"comment": ["can only be deleted by its author"]}}
    assert by_anne.status_code == 204
    assert client.get(f"/api/articles/{slug}/comments").get_json() == {"comments": []}


@pytest.mark.parametrize("comment_id", ["999999", "abc", "-1", "1.5", "99999999999999999999999"])
def test_deleting_an_unknown_comment_is_404(client, sign_up, publish, comment_id):
    jake = sign_up("jake")
    slug = publish(jake)["slug"]

    response = client.delete(f"/api/articles/{slug}/comments/{comment_id}", headers=jake.headers)

    assert response.status_code == 404
    assert response.get_json() == {"errors": {"comment": ["not found"]}}


def test_a_comment_cannot_be_deleted_through_another_article(client, sign_up, publish):
    jake = sign_up("jake")
    first, second = publish(jake, title="First")["slug"], publish(jake, title="Second")["slug"]
    comment_id = comment(client, jake, first).get_json()["comment"]["id"]

    response = client.delete(f"/api/articles/{second}/comments/{comment_id}", headers=jake.headers)

    assert response.status_code == 404
    assert len(client.get(f"/api/articles/{first}/comments").get_json()["comments"]) == 1


def test_comments_of_an_unknown_article_are_404(client, sign_up):
    jake = sign_up()

    assert client.get("/api/articles/nope/comments").status_code == 404
    assert comment(client, jake, "nope").status_code == 404


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"comment": {}}, {"body": ["can't be blank"]}),
        ({"comment": {"body": "  "}}, {"body": ["can't be blank"]}),
        ({"comment": {"body": 5}}, {"body": ["must be a string"]}),
        ({"body": "x"}, {"comment": ["is missing"]}),
    ],
)
def test_invalid_comments_are_422(client, sign_up, publish, payload, errors):
    jake = sign_up()
    slug = publish(jake)["slug"]

    response = client.post(f"/api/articles/{slug}/comments", headers=jake.headers, json=payload)

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


def test_deleting_an_article_deletes_its_comments(client, ctx, sign_up, publish):
    jake = sign_up()
    slug = publish(jake)["slug"]
    comment(client, jake, slug)
    comment(client, jake, slug)

    client.delete(f"/api/articles/{slug}", headers=jake.headers)

    assert ctx.stores.mongo.db.comments.count_documents({}) == 0


def test_commenting_needs_a_token(client, sign_up, publish):
    slug = publish(sign_up())["slug"]

    response = client.post(f"/api/articles/{slug}/comments", json={"comment": {"body": "x"}})

    assert response.status_code == 401


def test_tags_are_listed_most_used_first(client, sign_up, publish):
    jake = sign_up()
    publish(jake, title="a", tagList=["rare", "common"])
    publish(jake, title="b", tagList=["common"])

    response = client.get("/api/tags")

    assert response.status_code == 200
    assert response.get_json() == {"tags": ["common", "rare"]}


def test_tags_of_deleted_articles_are_not_listed(client, sign_up, publish):
    jake = sign_up()
    slug = publish(jake, tagList=["gone"])["slug"]
    assert client.get("/api/tags").get_json() == {"tags": ["gone"]}

    client.delete(f"/api/articles/{slug}", headers=jake.headers)

    assert client.get("/api/tags").get_json() == {"tags": []}
