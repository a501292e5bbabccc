"""The API's documentation stays true: /api/openapi.json describes exactly the routes the app
serves, with the limits the request schemas enforce, and /api/docs renders it from local assets."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Annotated, Any

import pytest
from flask import Blueprint, Flask
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from imflask_api import openapi, responses, schemas
from imflask_api.security import auth_required

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Not part of the API: server-rendered pages, static files, Prometheus' scrape endpoint.
UNDOCUMENTED_ENDPOINTS = {"static", "docs.static", "metrics"}
UNDOCUMENTED_BLUEPRINTS = ("web.",)
ROOT_ROUTES = {"/healthz", "/readyz"}

FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?[^<>]+>")  # <slug>, <int:comment_id>
OPENAPI_VARIABLE = re.compile(r"\{[^{}]+\}")  # {slug}
BOUNDS = ("minLength", "maxLength", "maxItems", "minimum", "maximum", "default")


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_openapi_3_1(document):
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert "RealWorld" in document["info"]["description"]  # the MIT attribution
    assert [server["url"] for server in document["servers"]] == ["/api", "/api/v1"]
    assert document["paths"]


def test_every_operation_answers_documented_responses(document):
    operation_ids = []
    for path, item in document["paths"].items():
        assert path.startswith("/"), path
        for method, operation in _operations(item):
            where = f"{method.upper()} {path}"
            assert operation.get("responses"), f"{where} documents no response"
            for code in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d|default", code), f"{where}: {code!r}"
            assert operation.get("summary"), f"{where} has no summary"
            operation_ids.append(operation["operationId"])
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_every_ref_resolves(document):
    refs = list(_refs(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), f"{ref} points outside the document"
        assert _resolve(document, ref) is not None, f"{ref} does not resolve"


def test_path_variables_are_declared_parameters(document):
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"\{([^{}]+)\}", path))
        for method, operation in _operations(item):
            params = [
                _deref(document, p)
                for p in item.get("parameters", []) + operation.get("parameters", [])
            ]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == in_path, f"{method.upper()} {path}: {declared} != {in_path}"
            assert all(p["required"] for p in params if p["in"] == "path")


def test_security_requirements_name_defined_schemes(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["Token"] == {**schemes["Token"], "type": "apiKey", "in": "header"}
    assert schemes["Token"]["name"] == "Authorization"
    assert "Bearer" in schemes["Token"]["description"]
    for path, item in document["paths"].items():
        for method, operation in _operations(item):
            assert "security" in operation, f"{method.upper()} {path} says nothing of auth"
            for requirement in operation["security"]:
                assert set(requirement) <= set(schemes), f"{method.upper()} {path}"


def test_every_api_route_is_documented(app, document):
    served = _served_operations(app)
    documented = _documented_operations(document)

    undocumented = served - documented
    assert not undocumented, f"routes without documentation: {sorted(undocumented)}"


def test_every_documented_operation_is_served(app, document):
    served = _served_operations(app)
    documented = _documented_operations(document)

    missing = documented - served
    assert not missing, f"documented but not served: {sorted(missing)}"


@pytest.mark.parametrize(
    ("component", "model"),
    [
        ("LoginUser", schemas.LoginUser),
        ("NewUser", schemas.NewUser),
        ("UpdateUser", schemas.UpdateUser),
        ("NewArticle", schemas.NewArticle),
        ("UpdateArticle", schemas.UpdateArticle),
        ("NewComment", schemas.NewComment),
    ],
)
def test_request_bodies_document_the_enforced_limits(document, component, model):
    documented = _deref(document, document["components"]["schemas"][component])
    enforced = model.model_json_schema()

    assert set(documented.get("required", [])) == set(enforced.get("required", []))
    assert set(documented["properties"]) == set(enforced["properties"])
    for name, rule in enforced["properties"].items():
        shown = _deref(document, documented["properties"][name])
        assert _bounds(document, shown) == _bounds(document, rule), f"{component}.{name}"


def test_mark_read_documents_the_enforced_limits(document):
    documented = document["components"]["schemas"]["MarkRead"]["properties"]["ids"]
    enforced = schemas.MarkRead.model_json_schema()["properties"]["ids"]

    assert _bounds(document, documented) == _bounds(document, enforced)
    assert _bounds(document, documented)["maxItems"] == 1000
    assert _bounds(document, documented)["items"]["maxLength"] == 24


def test_list_parameters_document_the_enforced_limits(document):
    enforced = schemas.ArticleQuery.model_json_schema()["properties"]
    for path in ("/articles", "/articles/feed", "/notifications"):
        parameters = {
            p["name"]: p for p in document["paths"][path]["get"]["parameters"] if "name" in p
        }
        for name in ("limit", "offset"):
            assert parameters[name]["in"] == "query"
            assert parameters[name]["description"], f"{path} {name}"
            assert _bounds(document, parameters[name]["schema"]) == _bounds(
                document, enforced[name]
            ), f"{path} {name}"
    filters = {p["name"]: p for p in document["paths"]["/articles"]["get"]["parameters"]}
    for name in ("tag", "author", "favorited"):
        assert _bounds(document, filters[name]["schema"]) == _bounds(document, enforced[name])
        assert filters[name]["schema"]["type"] == "string"  # not "string or null": a query


def test_every_schema_is_valid_json_schema_2020_12(document):
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises SchemaError naming the rule


def test_the_documented_details_survive_generation(document):
    """What the hand-written document said, now said by the models and decorators."""
    components = document["components"]
    assert set(components["responses"]) >= {
        "Unauthorized", "Forbidden", "NotFound", "PayloadTooLarge", "UnprocessableEntity",
        "TooManyRequests", "ServiceUnavailable", "IdempotencyConflict",
    }  # fmt: skip
    for response in components["responses"].values():
        body = response["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/Errors"}
        assert body["example"]["errors"]
    assert "Retry-After" in components["responses"]["TooManyRequests"]["headers"]
    new_user = components["schemas"]["NewUser"]["properties"]
    assert new_user["username"]["examples"] == ["jake"]
    assert new_user["password"]["format"] == "password"
    assert components["schemas"]["UpdateUser"]["minProperties"] == 1
    assert [tag["name"] for tag in document["tags"]][:2] == ["User and Authentication", "Profile"]
    login = document["paths"]["/users/login"]["post"]
    assert login["security"] == []
    assert login["summary"] == "Log in"
    assert "rate limit" in login["description"]
    assert set(login["responses"]) == {"200", "401", "413", "422", "429", "503"}
    assert "Set-Cookie" in login["responses"]["200"]["headers"]
    assert document["paths"]["/articles"]["post"]["responses"]["201"]["content"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_every_write_of_a_signed_in_user_documents_its_rate_limit(document, method):
    writes = [
        (path, item[method])
        for path, item in document["paths"].items()
        if method in item and item[method]["security"] == [{"Token": []}]
    ]
    assert writes
    for path, operation in writes:
        assert "429" in operation["responses"], f"{method.upper()} {path}"


def test_a_new_view_is_documented_by_its_decorators_alone():
    """Adding an endpoint: its route, its body model and its answer model, written once."""

    class NewBookmark(schemas.Schema):
        """The article to bookmark."""

        slug: Annotated[str, schemas.Text(max_length=255)]

    bookmarks = Blueprint("bookmarks", __name__)

    @bookmarks.post("/bookmarks/<slug>")
    @auth_required
    @openapi.operation("Articles", "CreateBookmark", answers=(201, responses.ProfileResponse))
    @openapi.body(NewBookmark, "bookmark")
    def bookmark(slug: str, data: NewBookmark):
        """Bookmark an article

        Keep it for later."""
        return {}

    app = Flask(__name__)
    for name, prefix in {"api": "/api", "v1": "/api/v1"}.items():
        app.register_blueprint(bookmarks, url_prefix=prefix, name=f"{name}_bookmarks")

    document = openapi.document(app)

    operation = document["paths"]["/bookmarks/{slug}"]["post"]
    assert list(document["paths"]) == ["/bookmarks/{slug}"]  # once, for both servers
    assert (operation["summary"], operation["description"]) == (
        "Bookmark an article",
        "Keep it for later.",
    )
    assert operation["security"] == [{"Token": []}]
    assert [p["name"] for p in operation["parameters"]] == ["slug"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["bookmark"] == {"$ref": "#/components/schemas/NewBookmark"}
    assert (
        document["components"]["schemas"]["NewBookmark"]["properties"]["slug"]["maxLength"] == 255
    )
    assert set(operation["responses"]) == {"201", "401", "413", "422", "429", "503"}


def test_serialized_objects_validate_against_the_response_models(client, sign_up, publish):
    jake = sign_up("jake")
    article = publish(jake)
    comment = client.post(
        f"/api/articles/{article['slug']}/comments",
        headers=jake.headers,
        json={"comment": {"body": "hi"}},
    ).get_json()

    responses.Article.model_validate(article)
    responses.SingleCommentResponse.model_validate(comment)
    listed = client.get("/api/articles").get_json()
    responses.MultipleArticlesResponse.model_validate(listed)
    with pytest.raises(ValidationError):  # lists leave the body out
        responses.Article.model_validate(listed["articles"][0])
    with pytest.raises(ValidationError):  # extra fields are a drift too
        responses.Profile.model_validate({**article["author"], "email": "jake@conduit.test"})


def test_the_document_is_served_once_not_under_each_prefix(client):
    assert client.get("/api/v1/openapi.json").status_code == 404
    assert client.get("/api/v1/docs").status_code == 404


def test_docs_page_renders_the_document_from_local_assets(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = _Page()
    page.feed(response.get_data(as_text=True))
    assert page.spec_url == "/api/openapi.json"
    assert page.inline_scripts == 0, "no inline script: the CSP allows 'self' only"
    assert len(page.scripts) == 2
    assert page.stylesheets
    for url in page.scripts + page.stylesheets:
        assert re.match(r"/[^/]", url), f"{url} is not a path on this server"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_docs_assets_are_served(client):
    page = _Page()
    page.feed(client.get("/api/docs").get_data(as_text=True))

    for url in page.scripts:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.mimetype in {"text/javascript", "application/javascript"}, url
        assert asset.content_length > 0
        asset.close()
    for url in page.stylesheets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.mimetype == "text/css", url
        asset.close()
    licence = client.get("/api/docs/static/LICENSE")
    assert licence.status_code == 200
    assert b"Apache License" in licence.get_data()


# --- helpers -------------------------------------------------------------------------------


def _operations(item: dict) -> list[tuple[str, dict]]:
    return [(key, value) for key, value in item.items() if key in METHODS]


def _shape(path: str) -> str:
    """``/api/articles/<slug>`` and ``/api/articles/{id}`` both become ``/api/articles/{}``."""
    return OPENAPI_VARIABLE.sub("{}", FLASK_VARIABLE.sub("{}", path))


def _served_operations(app) -> set[tuple[str, str]]:
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS or rule.endpoint.startswith(
            UNDOCUMENTED_BLUEPRINTS
        ):
            continue
        if not (rule.rule.startswith("/api/") or rule.rule in ROOT_ROUTES):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method, _shape(rule.rule)))
    return served


def _documented_operations(document: dict) -> set[tuple[str, str]]:
    """Every (method, full path) the document promises, under each server that applies."""
    documented = set()
    for path, item in document["paths"].items():
        for method, operation in _operations(item):
            servers = operation.get("servers") or item.get("servers") or document["servers"]
            for server in servers:
                documented.add((method.upper(), _shape(server["url"].rstrip("/") + path)))
    return documented


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict, ref: str) -> Any:
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _deref(document: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _resolve(document, node["$ref"])
    return node


def _bounds(document: dict, rule: dict) -> dict[str, Any]:
    """The limits a JSON schema puts on a value (a nullable variant counts as the value's).

    ``minLength: 0`` and ``default: null`` say nothing, so they are left out.
    """
    rule = _deref(document, rule)
    for variant in rule.get("anyOf", []):
        if variant.get("type") != "null":
            rule = {**rule, **variant}
    bounds = {key: rule[key] for key in BOUNDS if key in rule}
    if bounds.get("minLength") == 0:
        del bounds["minLength"]
    if bounds.get("default", 0) in (None, []):
        del bounds["default"]
    if "items" in rule:
        bounds["items"] = _bounds(document, rule["items"])
    return bounds


class _Page(HTMLParser):
    """The script and stylesheet URLs of a page, and how many scripts are inline."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.inline_scripts = 0
        self.spec_url: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attributes.get("src"):
                self.scripts.append(attributes["src"])
            else:
                self.inline_scripts += 1
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"] or "")
        if "data-spec-url" in attributes:
            self.spec_url = attributes["data-spec-url"]
        for name in ("onload", "onclick", "onerror"):
            if name in attributes:
                self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


def test_the_rate_limit_headers_are_documented_where_limits_count(document):
    headers = document["components"]["headers"]
    too_many = document["components"]["responses"]["TooManyRequests"]["headers"]
    limited = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"]

    assert set(too_many) == {"Retry-After", *limited}
    for name in limited:
        assert too_many[name]["$ref"].removeprefix("#/components/headers/") in headers
    assert "RateLimit-Policy" in document["info"]["description"]  # also on counted answers


@pytest.mark.parametrize("component", ["NewArticle", "UpdateArticle"])
def test_a_null_tag_list_is_documented_as_the_api_takes_it(client, sign_up, document, component):
    """``tagList: null`` means no tags (the fuzz test found it accepted but undocumented)."""
    jake = sign_up("jake")
    schema = document["components"]["schemas"][component]
    Draft202012Validator(schema["properties"]["tagList"]).validate(None)
    created = client.post(
        "/api/articles",
        headers=jake.headers,
        json={"article": {"title": "t", "description": "d", "body": "b", "tagList": None}},
    )
    assert created.status_code == 201
    assert created.get_json()["article"]["tagList"] == []
