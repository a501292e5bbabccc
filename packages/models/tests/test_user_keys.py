"""The normalized keys of usernames and emails: look-alikes share one, others do not."""

from __future__ import annotations

import pytest

from imflask_models.mysql.user_keys import _prototypes, _skeleton, email_key, username_key


@pytest.mark.parametrize(
    ("name", "look_alike"),
    [
        ("jake", "JaKe"),  # case
        ("strasse", "STRAẞE"),  # full case folding: ß is ss
        ("jake", "\uff4a\uff41\uff4b\uff45"),  # fullwidth (NFKC)
        ("jake", "\U0001d423\U0001d41a\U0001d424\U0001d41e"),  # mathematical bold (NFKC)
        ("jake", "j\u0430ke"),  # CYRILLIC SMALL LETTER A -> a (confusables.txt)
        ("sam", "\u0455am"),  # CYRILLIC SMALL LETTER DZE -> s
        ("bill", "b\u0131ll"),  # LATIN SMALL LETTER DOTLESS I -> i
        ("bob", "b\u03bfb"),  # GREEK SMALL LETTER OMICRON -> o
        ("bobo", "bob0"),  # DIGIT ZERO -> O, then folded
        ("paypal", "paypa1"),  # DIGIT ONE -> l
        ("tim", "tirn"),  # m -> rn
        ("jake", "\U0001d5dd\U0001d5d4\U0001d5de\U0001d5d8"),  # sans-serif bold
    ],
)
def test_names_that_look_alike_share_a_key(name, look_alike):
    assert username_key(look_alike) == username_key(name)


@pytest.mark.parametrize(
    ("name", "other"),
    [("jake", "jaké"), ("jake", "jakes"), ("jake", "j.ake"), ("ian", "lan"), ("jo-e", "jo_e")],
)
def test_names_that_differ_keep_their_own_keys(name, other):
    assert username_key(other) != username_key(name)


def test_the_skeleton_of_a_skeleton_is_itself_for_every_confusable():
    prototypes = _prototypes()
    assert len(prototypes) > 5000  # the whole of confusables.txt, not a handful

    unstable = [c for c in prototypes if _skeleton(_skeleton(c)) != _skeleton(c)]

    assert unstable == []


def test_an_email_key_folds_case_and_width_but_not_look_alike_letters():
    assert email_key(" Jake@Conduit.TEST ") == email_key("jake@conduit.test")
    assert email_key("\uff4aake@conduit.test") == email_key("jake@conduit.test")
    assert email_key("j\u0430ke@conduit.test") != email_key("jake@conduit.test")


def test_a_key_has_one_length_however_long_the_name_grows_when_normalized():
    # U+FDFA is one character that NFKC writes as eighteen
    assert len(username_key("\ufdfa" * 64)) == len(username_key("a")) == 64


def test_backfilling_again_gives_keys_to_users_an_older_release_registered(ctx):
    from imflask_models.errors import DuplicateKey
    from imflask_models.mysql import users as users_table
    from imflask_models.mysql.dialect import utcnow
    from imflask_models.mysql.user_keys import backfill_keys

    with ctx.stores.sql.connection() as conn:
        users_table.insert_user(conn, username="bob", email="bob@x.test", password_hash="h")
        # as the release before 0004 registered: the row alone
        conn.execute(
            "INSERT INTO users (username, email, password_hash, created_at, updated_at) "
            "VALUES ('jake', 'jake@x.test', 'h', %(now)s, %(now)s)",
            {"now": utcnow()},
        )
        users_table.insert_user(conn, username="JAKE", email="other@x.test", password_hash="h")
    with ctx.stores.sql.transaction() as conn:
        given = backfill_keys(conn)
    with pytest.raises(DuplicateKey) as fourth, ctx.stores.sql.transaction() as conn:
        users_table.insert_user(conn, username="Jake", email="new@x.test", password_hash="h")
    with ctx.stores.sql.connection() as conn:
        again = backfill_keys(conn)
        keys = conn.all(
            "SELECT u.username, k.username AS username_key FROM users u "
            "JOIN user_keys k ON k.user_id = u.id ORDER BY u.id"
        )

    assert given == 1
    assert again == 0
    assert fourth.value.field == "username"
    # JAKE registered (a look-alike the old release let in) before jake got keys: jake keeps
    # the name, JAKE holds the key
    assert keys == [
        {"username": "bob", "username_key": username_key("bob")},
        {"username": "jake", "username_key": None},
        {"username": "JAKE", "username_key": username_key("jake")},
    ]
