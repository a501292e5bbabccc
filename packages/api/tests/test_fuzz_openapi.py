"""Every JSON operation of the served OpenAPI document, fuzzed: schemathesis generates
requests from /api/openapi.json (valid ones and invalid ones), sends them through Flask's
WSGI client to an app on the real stores, and every answer must be no 5xx, a status the
operation documents, and a body and headers that match the document.

Each example is sent anonymously, or signed in as the author of a real article and
comment, or as another reader; the path parameters are those real ones (a slug, a
username, a comment id) or generated ones. Then sequences: schemathesis links the
operations through what one answer hands the next (dependency analysis of the document)
and walks them signed in. Bounded: IMFLASK_FUZZ_EXAMPLES examples per operation (30) and
IMFLASK_FUZZ_SEQUENCES sequences of up to 8 steps (20), no per-example deadline,
derandomized so a failure reproduces; IMFLASK_FUZZ_SEED=<int> explores another corner (a
nightly run can raise all three).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from imflask_core.config import RateLimit

EXAMPLES = int(os.environ.get("IMFLASK_FUZZ_EXAMPLES", "30"))
SEQUENCES = int(os.environ.get("IMFLASK_FUZZ_SEQUENCES", "20"))
SEED = os.environ.get("IMFLASK_FUZZ_SEED")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
IDENTITIES = ("anonymous", "author", "reader")
# schemathesis sends requests' default Accept-Encoding, but its WSGI transport does not
# decode what the app then compresses (an HTTP client would): ask for the plain body.
PLAIN = {"Accept-Encoding": "identity"}
# So the fuzzer reaches the operations instead of the limiter (test_rate_limits_api.py
# covers the limits themselves).
NO_LIMITS = {"rate_limit_auth": RateLimit(10**9, 60), "rate_limit_writes": RateLimit(10**9, 60)}


@dataclass
class World:
    """Real things for the path parameters: an author's article with a comment, a reader."""

    author_token: str
    reader_token: str
    path_parameters: dict[str, object]


@pytest.fixture
def fuzz_app(make_app):
    return make_app(**NO_LIMITS)


@pytest.fixture
def fuzz_schema(fuzz_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)


def build_world(client) -> World:
    """Sign up an author and a reader, publish an article and comment on it."""
    run = uuid.uuid4().hex[:8]

    def sign_up(name: str) -> tuple[str, str]:
        user = {"username": f"{name}{run}", "email": f"{name}{run}@fuzz.test", "password": "x" * 12}
        response = client.post("/api/users", json={"user": user})
        assert response.status_code == 201, response.get_json()
        return user["username"], response.get_json()["user"]["token"]

    author, author_token = sign_up("author")
    _, reader_token = sign_up("reader")
    signed_in = {"Authorization": f"Token {author_token}"}
    article = {"title": f"Fuzzed {run}", "description": "d", "body": "b", "tagList": ["fuzz"]}
    response = client.post("/api/articles", headers=signed_in, json={"article": article})
    assert response.status_code == 201, response.get_json()
    slug = response.get_json()["article"]["slug"]
    response = client.post(
        f"/api/articles/{slug}/comments", headers=signed_in, json={"comment": {"body": "c"}}
    )
    assert response.status_code == 200, response.get_json()
    comment_id = response.get_json()["comment"]["id"]
    return World(
        author_token,
        reader_token,
        {"slug": slug, "username": author, "comment_id": comment_id, "id": comment_id},
    )


def test_every_operation_answers_as_documented(fuzz_app, fuzz_schema):
    client = fuzz_app.test_client()
    world = [build_world(client)]
    failures: list[str] = []
    covered: list[str] = []

    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        covered.append(operation.label)
        try:
            fuzz(operation, client, world)
        except (Exception, FailureGroup) as error:  # run them all; report each failure
            failures.append(f"{operation.label}: {error}")

    documented = [
        f"{method.upper()} {path}"
        for path, item in fuzz_schema.raw_schema["paths"].items()
        for method in item
        if method != "servers"
    ]
    assert sorted(covered) == sorted(documented)
    assert not failures, "\n\n".join(failures)


def root_paths(schema) -> set[str]:
    """The paths served at the app's root: schemathesis takes the document's servers
    (/api) and skips a path's own (/)."""
    return {path for path, item in schema.raw_schema["paths"].items() if "servers" in item}


def shadowed(case) -> bool:
    """Whether the case's path is another operation's fixed path: ``/articles/{slug}``
    with the slug ``feed`` is ``/articles/feed``, which OpenAPI matches before any
    templated path, so the answer is the feed's, not an article's."""
    paths = case.operation.schema.raw_schema["paths"]
    return case.formatted_path != case.path and case.formatted_path in paths


def fuzz(operation, client, world: list[World]) -> None:
    """Send ``EXAMPLES`` generated requests to ``operation``; raise what the checks find."""
    base_url = "http://localhost" if operation.path in root_paths(operation.schema) else None
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, identity=st.sampled_from(IDENTITIES), real_paths=st.booleans())
    def run(case, identity: str, real_paths: bool) -> None:
        current = world[0]
        if real_paths and case.path_parameters:
            case.path_parameters = {
                name: current.path_parameters.get(name, value)
                for name, value in case.path_parameters.items()
            }
        headers = dict(case.headers or {})
        headers.pop("Authorization", None)
        if identity != "anonymous":
            token = current.author_token if identity == "author" else current.reader_token
            headers["Authorization"] = f"Token {token}"
        case.headers = headers
        assume(not shadowed(case))
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, headers=PLAIN)
        if case.method != "GET" and response.status_code < 300:
            world[0] = build_world(client)  # the write may have changed what it names

    if SEED is not None:
        run = seed(int(SEED))(run)
    run()


def test_sequences_linked_by_the_document_answer_as_documented(fuzz_app, fuzz_schema):
    """Stateful: schemathesis links operations through what one answer gives the next
    (an article's slug, a username, a comment id) and walks sequences of them."""
    world = build_world(fuzz_app.test_client())
    roots = root_paths(fuzz_schema)
    failures: list[str] = []

    class Sequences(fuzz_schema.as_state_machine()):
        def get_call_kwargs(self, case):
            kwargs = {"headers": {"Authorization": f"Token {world.author_token}", **PLAIN}}
            if case.operation.path in roots:
                kwargs["base_url"] = "http://localhost"
            return kwargs

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            if shadowed(case):
                return
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            except FailureGroup as group:
                failures.append(f"{case.operation.label}: {group}")
                raise

    if SEED is not None:
        seed(int(SEED))(Sequences)
    # The stores remember every earlier sequence, so hypothesis replaying one (to shrink
    # a failure, or along a prefix it knows) may see other answers and draw other steps:
    # Flaky. What the checks found is recorded above, and that is the verdict.
    with contextlib.suppress(Flaky):
        Sequences.run(
            settings=settings(
                max_examples=SEQUENCES,
                stateful_step_count=8,
                deadline=None,
                derandomize=SEED is None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    assert not failures, "\n\n".join(failures)


# What the fuzzer found, kept as plain tests.


def test_a_path_parameter_that_names_a_fixed_path_is_that_path(fuzz_schema):
    """Found by the fuzzer (seed 2, 100 examples): a slug ``feed`` answers the feed, as
    OpenAPI's rule that fixed paths match first says; the fuzzer leaves such a case out
    of ``/articles/{slug}`` (``/articles/feed`` is fuzzed as itself)."""
    article = fuzz_schema["/articles/{slug}"]["GET"]
    feed = article.Case(path_parameters={"slug": "feed"})
    own = article.Case(path_parameters={"slug": "how-to-train-your-dragon"})

    assert shadowed(feed)
    assert not shadowed(own)


def test_following_with_an_idempotency_key_is_one_unit_of_work(client, sign_up):
    """Found by the fuzzer: the follow was written on a second connection beside the
    key's unit of work, so SQLite waited on its own lock and answered 503."""
    jake, celeb = sign_up("jake"), sign_up("celeb")
    headers = {**jake.headers, "Idempotency-Key": "follow-celeb"}

    first = client.post(f"/api/profiles/{celeb.username}/follow", headers=headers)
    again = client.post(f"/api/profiles/{celeb.username}/follow", headers=headers)

    assert first.status_code == 200, first.get_json()
    assert first.get_json()["profile"]["following"] is True
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    profile = client.get(f"/api/profiles/{celeb.username}", headers=jake.headers).get_json()
    assert profile["profile"]["following"] is True
