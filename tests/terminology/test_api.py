"""The /fhir REST API through the full app: CRUD, search, operations and bad input (4xx, never 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.db import get_db
from tests.helpers import make_app, new_key

CS = {
    "resourceType": "CodeSystem",
    "id": "demo",
    "url": "urn:jembatan:codesystem:demo",
    "version": "1.0.0",
    "name": "Demo",
    "title": "Demo codes",
    "status": "active",
    "content": "complete",
    "caseSensitive": True,
    "concept": [
        {
            "code": "A",
            "display": "Alpha",
            "definition": "first",
            "concept": [{"code": "A1", "display": "Alpha one"}, {"code": "A2", "display": "Alpha two"}],
        },
        {"code": "B", "display": "Beta", "property": [{"code": "status", "valueCode": "retired"}]},
    ],
}
VS = {
    "resourceType": "ValueSet",
    "id": "demo-a",
    "url": "urn:jembatan:valueset:demo-a",
    "version": "1.0.0",
    "status": "active",
    "compose": {"include": [{"system": CS["url"], "filter": [{"property": "concept", "op": "is-a", "value": "A"}]}]},
}
CM = {
    "resourceType": "ConceptMap",
    "id": "demo-map",
    "url": "urn:jembatan:conceptmap:demo",
    "version": "1.0.0",
    "status": "active",
    "group": [
        {
            "source": CS["url"],
            "target": "http://hl7.org/fhir/administrative-gender",
            "element": [{"code": "A", "target": [{"code": "male", "equivalence": "equivalent"}]}],
        }
    ],
}


def params(*items: tuple[str, str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": n, k: v} for n, k, v in items]}


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[Flask]:
    """The full app on SQLite and on PostgreSQL (``db_url`` is parametrized by tests/conftest.py)."""
    application = make_app(tmp_path, DATABASE_URL=db_url)
    yield application
    get_db(application).dispose()


@pytest.fixture
def auth_headers(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_key(app)}"}


@pytest.fixture
def loaded(client: FlaskClient, auth_headers: dict[str, str]) -> dict[str, str]:
    for rtype, body in (("CodeSystem", CS), ("ValueSet", VS), ("ConceptMap", CM)):
        assert client.put(f"/fhir/{rtype}/{body['id']}", json=body, headers=auth_headers).status_code in (200, 201)
    return auth_headers


def test_auth_required(client: FlaskClient) -> None:
    assert client.get("/fhir/CodeSystem").status_code == 401


def test_crud_and_search(client: FlaskClient, loaded: dict[str, str]) -> None:
    got = client.get("/fhir/CodeSystem/demo", headers=loaded).get_json()
    assert got["url"] == CS["url"] and got["meta"]["versionId"] == "1"
    again = client.put("/fhir/CodeSystem/demo", json=CS, headers=loaded)
    assert again.status_code == 200 and again.get_json()["meta"]["versionId"] == "1"  # idempotent
    bundle = client.get(f"/fhir/CodeSystem?url={CS['url']}&version=1.0.0", headers=loaded).get_json()
    assert bundle["total"] == 1
    assert client.get("/fhir/CodeSystem?name=dem", headers=loaded).get_json()["total"] == 1
    assert client.delete("/fhir/ConceptMap/demo-map", headers=loaded).status_code == 204
    assert client.get("/fhir/ConceptMap/demo-map", headers=loaded).status_code == 404


def test_lookup_get_and_post(client: FlaskClient, loaded: dict[str, str]) -> None:
    res = client.get(f"/fhir/CodeSystem/$lookup?system={CS['url']}&code=A", headers=loaded).get_json()
    names = {p["name"] for p in res["parameter"]}
    assert {"name", "display", "definition", "property"} <= names
    children = [p for p in res["parameter"] if p["name"] == "property" and p["part"][0]["valueCode"] == "child"]
    assert len(children) == 2
    body = params(("coding", "valueCoding", {"system": CS["url"], "code": "A1"}))
    res = client.post("/fhir/CodeSystem/$lookup", json=body, headers=loaded).get_json()
    assert {"name": "display", "valueString": "Alpha one"} in res["parameter"]


def test_expand_filter_count_and_hierarchy(client: FlaskClient, loaded: dict[str, str]) -> None:
    res = client.get(f"/fhir/ValueSet/$expand?url={VS['url']}", headers=loaded).get_json()
    assert res["expansion"]["total"] == 3
    assert res["expansion"]["contains"][0]["code"] == "A" and len(res["expansion"]["contains"][0]["contains"]) == 2
    res = client.get(f"/fhir/ValueSet/$expand?url={VS['url']}&filter=two&count=20", headers=loaded).get_json()
    assert [c["code"] for c in res["expansion"]["contains"]] == ["A2"]
    res = client.get("/fhir/ValueSet/demo-a/$expand?count=1&offset=1", headers=loaded).get_json()
    assert res["expansion"]["total"] == 3 and len(res["expansion"]["contains"]) == 1


def test_validate_code_and_subsumes_and_translate(client: FlaskClient, loaded: dict[str, str]) -> None:
    ok = client.get(
        f"/fhir/ValueSet/$validate-code?url={VS['url']}&system={CS['url']}&code=A1", headers=loaded
    ).get_json()
    assert {"name": "result", "valueBoolean": True} in ok["parameter"]
    bad = client.get(
        f"/fhir/ValueSet/$validate-code?url={VS['url']}&system={CS['url']}&code=B", headers=loaded
    ).get_json()
    assert {"name": "result", "valueBoolean": False} in bad["parameter"]
    assert any(p["name"] == "issues" for p in bad["parameter"])
    cs_ok = client.get(
        f"/fhir/CodeSystem/$validate-code?url={CS['url']}&code=A&display=Alpha", headers=loaded
    ).get_json()
    assert {"name": "result", "valueBoolean": True} in cs_ok["parameter"]
    sub = client.get(f"/fhir/CodeSystem/$subsumes?system={CS['url']}&codeA=A&codeB=A2", headers=loaded).get_json()
    assert sub["parameter"] == [{"name": "outcome", "valueCode": "subsumes"}]
    tr = client.get(f"/fhir/ConceptMap/$translate?system={CS['url']}&code=A", headers=loaded).get_json()
    assert {"name": "result", "valueBoolean": True} in tr["parameter"]
    rev = client.get(
        "/fhir/ConceptMap/$translate?system=http://hl7.org/fhir/administrative-gender&code=male&reverse=true",
        headers=loaded,
    ).get_json()
    match = next(p for p in rev["parameter"] if p["name"] == "match")
    assert {"name": "concept", "valueCoding": {"system": CS["url"], "code": "A"}} in match["part"]


def test_tx_resource_is_request_scoped(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    body = params(("system", "valueUri", "urn:inline"), ("code", "valueCode", "x"))
    body["parameter"].append(
        {
            "name": "tx-resource",
            "resource": {
                "resourceType": "CodeSystem",
                "url": "urn:inline",
                "status": "active",
                "content": "complete",
                "concept": [{"code": "x", "display": "Ex"}],
            },
        }
    )
    assert client.post("/fhir/CodeSystem/$lookup", json=body, headers=auth_headers).status_code == 200
    body["parameter"].pop()
    assert client.post("/fhir/CodeSystem/$lookup", json=body, headers=auth_headers).status_code == 404


def test_metadata(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    cap = client.get("/fhir/metadata", headers=auth_headers).get_json()
    assert cap["instantiates"] == ["http://hl7.org/fhir/CapabilityStatement/terminology-server"]
    caps = client.get("/fhir/metadata?mode=terminology", headers=auth_headers).get_json()
    assert {"name": "tx-resource"} in caps["expansion"]["parameter"]


def _filter_vs(op: str, value: str, prop: str = "concept") -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {"include": [{"system": CS["url"], "filter": [{"property": prop, "op": op, "value": value}]}]},
    }


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("get", "/fhir/CodeSystem/$lookup?system=urn:nope&code=A", None, 404),
        ("get", f"/fhir/CodeSystem/$lookup?system={CS['url']}&version=9.9&code=A", None, 404),
        ("get", f"/fhir/CodeSystem/$lookup?system={CS['url']}&code=ZZ", None, 404),
        ("get", "/fhir/CodeSystem/$lookup", None, 400),
        ("post", "/fhir/ValueSet/$expand", {"resourceType": "Patient"}, 400),
        ("post", "/fhir/ValueSet/$expand", {"resourceType": "Parameters", "parameter": [{"value": 1}]}, 400),
        ("post", "/fhir/ValueSet/$expand", "not json", 400),
        ("get", "/fhir/ValueSet/$expand?url=urn:none", None, 404),
        ("get", "/fhir/ValueSet/$expand?url=urn:jembatan:valueset:demo-a&count=-1", None, 400),
        ("get", "/fhir/ValueSet/$expand?url=urn:jembatan:valueset:demo-a&count=abc", None, 400),
        (
            "post",
            "/fhir/ValueSet/$expand",
            params(("valueSet", "resource", _filter_vs("regex", "(a+)+$", "code"))),
            400,
        ),
        (
            "post",
            "/fhir/ValueSet/$expand",
            params(("valueSet", "resource", _filter_vs("regex", "(x|x?)*y", "code"))),
            400,
        ),
        ("post", "/fhir/ValueSet/$expand", params(("valueSet", "resource", _filter_vs("sounds-like", "A"))), 400),
        ("post", "/fhir/ValueSet/$expand", params(("valueSet", "resource", _filter_vs("=", "x", "nosuchprop"))), 400),
        ("post", "/fhir/ValueSet/$expand", params(("valueSet", "resource", _filter_vs("is-a", ""))), 400),
        ("get", "/fhir/Patient/$expand", None, 404),
        ("get", "/fhir/CodeSystem/$frobnicate", None, 400),
        ("put", "/fhir/CodeSystem/x", {"resourceType": "ValueSet"}, 400),
        ("get", "/fhir/CodeSystem?bogus=1", None, 400),
    ],
)
def test_bad_input_is_4xx_outcome(
    client: FlaskClient, loaded: dict[str, str], method: str, url: str, body: Any, status: int
) -> None:
    call = getattr(client, method)
    kwargs: dict[str, Any] = {"headers": loaded}
    if isinstance(body, str):
        kwargs["data"] = body
        kwargs["content_type"] = "application/fhir+json"
    elif body is not None:
        kwargs["json"] = body
    res = call(url, **kwargs)
    assert res.status_code == status, res.get_data(as_text=True)
    assert res.get_json()["resourceType"] == "OperationOutcome"


def test_too_costly_expansion(client: FlaskClient, auth_headers: dict[str, str], app: Any) -> None:
    app.extensions["jembatan.terminology"].expansion_limit = 2
    res = client.get(f"/fhir/ValueSet/$expand?url={VS['url']}", headers=auth_headers)
    assert res.status_code == 404  # not loaded in this test: unknown value set
    client.put("/fhir/CodeSystem/demo", json=CS, headers=auth_headers)
    client.put("/fhir/ValueSet/demo-a", json=VS, headers=auth_headers)
    res = client.get(f"/fhir/ValueSet/$expand?url={VS['url']}", headers=auth_headers)
    assert res.status_code == 422 and res.get_json()["issue"][0]["code"] == "too-costly"
    assert client.get(f"/fhir/ValueSet/$expand?url={VS['url']}&count=2", headers=auth_headers).status_code == 200


# -- fuzzing: whatever arrives, the answer is a FHIR resource and never a 500 ---------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
NAMES = st.sampled_from(
    [
        "url",
        "code",
        "system",
        "version",
        "coding",
        "codeableConcept",
        "valueSet",
        "count",
        "offset",
        "filter",
        "property",
        "tx-resource",
        "displayLanguage",
        "activeOnly",
        "codeA",
        "codeB",
        "reverse",
        "targetCode",
        "sourceCode",
        "system-version",
        "x",
    ]
)
VALUE_KEYS = st.sampled_from(
    [
        "valueString",
        "valueUri",
        "valueCode",
        "valueInteger",
        "valueBoolean",
        "valueCoding",
        "valueCodeableConcept",
        "resource",
        "part",
    ]
)
PARAMS = st.lists(
    st.fixed_dictionaries({"name": NAMES}).flatmap(
        lambda p: st.dictionaries(VALUE_KEYS, JSON, max_size=2).map(lambda v: {**p, **v})
    ),
    max_size=6,
)
OPS = st.sampled_from(
    [
        "/fhir/ValueSet/$expand",
        "/fhir/ValueSet/$validate-code",
        "/fhir/CodeSystem/$lookup",
        "/fhir/CodeSystem/$validate-code",
        "/fhir/CodeSystem/$subsumes",
        "/fhir/ConceptMap/$translate",
        "/fhir/ValueSet/$batch-validate-code",
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=OPS, parameters=PARAMS)
def test_fuzzed_parameters_never_500(
    client: FlaskClient, loaded: dict[str, str], op: str, parameters: list[dict[str, Any]]
) -> None:
    res = client.post(op, json={"resourceType": "Parameters", "parameter": parameters}, headers=loaded)
    assert res.status_code < 500, res.get_data(as_text=True)
    assert res.get_json()["resourceType"] in ("Parameters", "ValueSet", "OperationOutcome")


RESOURCE_TYPES = st.sampled_from(["CodeSystem", "ValueSet", "ConceptMap"])
MALFORMED = st.fixed_dictionaries(
    {"resourceType": RESOURCE_TYPES, "url": st.just("urn:fuzz")},
    optional={
        "concept": JSON,
        "compose": JSON,
        "group": JSON,
        "property": JSON,
        "version": JSON,
        "content": JSON,
        "expansion": JSON,
        "contained": JSON,
        "supplements": JSON,
    },
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resource=MALFORMED, op=OPS)
def test_fuzzed_inline_resources_never_500(
    client: FlaskClient, auth_headers: dict[str, str], resource: dict[str, Any], op: str
) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "tx-resource", "resource": resource},
            {"name": "url", "valueUri": "urn:fuzz"},
            {"name": "system", "valueUri": "urn:fuzz"},
            {"name": "code", "valueCode": "a"},
        ],
    }
    res = client.post(op, json=body, headers=auth_headers)
    assert res.status_code < 500, res.get_data(as_text=True)
    put = client.put(f"/fhir/{resource['resourceType']}/fuzz", json=resource, headers=auth_headers)
    assert put.status_code < 500, put.get_data(as_text=True)
