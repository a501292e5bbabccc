"""A list page's queries read what the page shows, and its count no more than it needs."""

from __future__ import annotations

import re

from imflask_models.mysql import articles as articles_table
from imflask_models.mysql import favorites
from imflask_models.mysql import tags as tags_table
from imflask_models.mysql import users as users_table
from imflask_models.mysql.articles import ArticleFilters
from imflask_models.mysql.dialect import SQLITE


def tables_read(conn, query: str, params: dict) -> set[str]:
    """The tables (or their aliases) the database's plan for ``query`` reads."""
    if conn.dialect is SQLITE:
        plan = conn.all(f"EXPLAIN QUERY PLAN {query}", params)
        return {
            match.group(1)
            for row in plan
            if (match := re.match(r"(?:SCAN|SEARCH) (\w+)", row["detail"]))
        }
    return {row["table"] for row in conn.all(f"EXPLAIN {query}", params)}


def count_query(filters: ArticleFilters) -> tuple[str, dict]:
    active = filters.active()
    return articles_table._list_queries(frozenset(active))[1], active


def test_a_tags_count_and_a_users_favorites_count_read_only_their_links(ctx):
    with ctx.stores.sql.connection() as conn:
        by_tag = tables_read(conn, *count_query(ArticleFilters(tag_id=1)))
        by_favorite = tables_read(conn, *count_query(ArticleFilters(favorited_by=1)))
        both = tables_read(conn, *count_query(ArticleFilters(tag_id=1, favorited_by=1)))

    assert by_tag == {"article_tags"}  # not each matching article's row too
    assert by_favorite == {"favorites"}
    assert len(both) > 1  # two filters: the general count, through articles


def test_a_list_page_reads_no_favorites_since_their_counts_are_cached_apart(ctx):
    page_query = articles_table._list_queries(frozenset())[0]

    with ctx.stores.sql.connection() as conn:
        read = tables_read(conn, page_query, {"limit": 20, "offset": 0})

    assert not read & {"favorites", "fc"}


def test_the_counts_match_the_pages(ctx):
    # given two articles with one tag each, one favorited
    with ctx.stores.sql.connection() as conn:
        user_id = users_table.insert_user(conn, username="u", email="u@x.org", password_hash="h")
        ids = [
            articles_table.insert_article(
                conn, slug=f"s{n}", title="t", description="d", body="b", author_id=user_id
            ).id
            for n in range(2)
        ]
        tag_id = tags_table.ensure_tags(conn, ["x"])["x"]
        tags_table.add_article_tags(conn, ids[0], [tag_id])
        favorites.favorite(conn, user_id=user_id, article_id=ids[1])

        # when each list is counted and paged
        lists = [ArticleFilters(tag_id=tag_id), ArticleFilters(favorited_by=user_id)]
        counted = [articles_table.article_count(conn, filters) for filters in lists]
        paged = [
            [row.id for row in articles_table.article_page(conn, filters, limit=20, offset=0)]
            for filters in lists
        ]

    # then each count is its page's length
    assert counted == [1, 1]
    assert paged == [[ids[0]], [ids[1]]]
