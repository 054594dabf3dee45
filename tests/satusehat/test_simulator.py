from __future__ import annotations

from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from bridge.simulators.satusehat import DroppingTransport, create_app
from tests.satusehat.satusehat_payloads import ORG, base, encounter

FHIR = "/fhir-r4/v1"


@pytest.fixture
def sim() -> Any:
    return create_app({"TOKEN_TTL": 60})


@pytest.fixture
def http(sim: Any) -> FlaskClient:
    return sim.test_client()


def token(http: FlaskClient, client_id: str = "sim-client", secret: str = "sim-secret") -> dict[str, Any]:
    response = http.post(
        "/oauth2/v1/accesstoken?grant_type=client_credentials",
        data={"client_id": client_id, "client_secret": secret},
    )
    return {"status": response.status_code, "json": response.get_json()}


@pytest.fixture
def auth(http: FlaskClient) -> dict[str, str]:
    return {"Authorization": "Bearer " + token(http)["json"]["access_token"]}


def test_token_reply_is_apigee_style_strings(http: FlaskClient) -> None:
    reply = token(http)
    assert reply["status"] == 200
    assert reply["json"]["expires_in"] == "60"
    assert reply["json"]["token_type"] == "BearerToken"
    assert all(isinstance(v, str) for v in reply["json"].values())


def test_token_needs_grant_type_in_query_and_form_body(http: FlaskClient) -> None:
    body = {"client_id": "sim-client", "client_secret": "sim-secret"}
    assert http.post("/oauth2/v1/accesstoken", data=body).status_code == 400
    assert http.post("/oauth2/v1/accesstoken?grant_type=client_credentials", json=body).status_code == 400


def test_bad_credentials_answer_documented_outcome(http: FlaskClient) -> None:
    reply = token(http, secret="wrong")
    assert reply["status"] == 401
    assert reply["json"]["issue"][0]["severity"] == "invalid"
    assert "not able to be authenticated" in reply["json"]["issue"][0]["details"]["text"]


def test_fhir_without_token_is_invalid_access_token(http: FlaskClient) -> None:
    response = http.get(f"{FHIR}/Patient/100000030009")
    assert response.status_code == 401
    assert response.get_json()["issue"][0]["code"] == "invalid-access-token"


def test_create_read_update_encounter(http: FlaskClient, auth: dict[str, str]) -> None:
    created = http.post(f"{FHIR}/Encounter", json=encounter("arrived"), headers=auth)
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["id"]
    assert http.get(f"{FHIR}/Encounter/{rid}", headers=auth).get_json()["status"] == "arrived"
    progressed = {**encounter("in-progress"), "id": rid}
    updated = http.put(f"{FHIR}/Encounter/{rid}", json=progressed, headers=auth)
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["meta"]["versionId"] == "2"


def test_put_without_id_is_id_is_required(http: FlaskClient, auth: dict[str, str]) -> None:
    rid = http.post(f"{FHIR}/Encounter", json=encounter("arrived"), headers=auth).get_json()["id"]
    response = http.put(f"{FHIR}/Encounter/{rid}", json=encounter("in-progress"), headers=auth)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["details"]["text"] == "id is required"


def test_history_may_not_be_rewritten(http: FlaskClient, auth: dict[str, str]) -> None:
    rid = http.post(f"{FHIR}/Encounter", json=encounter("in-progress"), headers=auth).get_json()["id"]
    response = http.put(f"{FHIR}/Encounter/{rid}", json={**encounter("arrived"), "id": rid}, headers=auth)
    assert response.status_code == 400


def test_wrong_org_is_rule_10117_with_expression(http: FlaskClient, auth: dict[str, str]) -> None:
    enc = encounter("arrived")
    enc["identifier"][0]["system"] = "http://sys-ids.kemkes.go.id/encounter/999"
    response = http.post(f"{FHIR}/Encounter", json=enc, headers=auth)
    assert response.status_code == 400
    issue = response.get_json()["issue"][0]
    assert "RuleNumber: 10117" in issue["details"]["text"]
    assert issue["expression"] == ["Encounter.identifier[0].system"]
    assert set(issue) == {"severity", "code", "details", "expression"}


def test_duplicate_business_identifier_is_refused(http: FlaskClient, auth: dict[str, str]) -> None:
    assert http.post(f"{FHIR}/Encounter", json=encounter("arrived"), headers=auth).status_code == 201
    again = http.post(f"{FHIR}/Encounter", json=encounter("arrived"), headers=auth)
    assert again.status_code == 400
    assert again.get_json()["issue"][0]["code"] == "duplicate"


def test_dangling_reference_is_refused(http: FlaskClient, auth: dict[str, str]) -> None:
    cond = base("Condition")  # its Encounter does not exist on the server
    response = http.post(f"{FHIR}/Condition", json=cond, headers=auth)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "not-found"


def test_patient_create_replies_non_fhir(http: FlaskClient, auth: dict[str, str]) -> None:
    pat = base("Patient")
    pat["identifier"][0]["value"] = "3174031002890011"
    reply = http.post(f"{FHIR}/Patient", json=pat, headers=auth).get_json()
    assert reply["success"] is True
    assert reply["data"]["patient_id"].startswith("P")
    newborn = base("Patient")
    newborn["identifier"] = [{"system": "https://fhir.kemkes.go.id/id/nik-ibu", "value": "3174031002890012"}]
    assert "create_patient" in http.post(f"{FHIR}/Patient", json=newborn, headers=auth).get_json()


def test_search_patient_by_nik(http: FlaskClient, auth: dict[str, str]) -> None:
    query = "identifier=https://fhir.kemkes.go.id/id/nik|3174031002890009"
    bundle = http.get(f"{FHIR}/Patient?{query}", headers=auth).get_json()
    assert bundle["total"] == 1
    assert bundle["entry"][0]["resource"]["id"] == "100000030009"


def test_transaction_resolves_uuids_and_is_all_or_nothing(http: FlaskClient, auth: dict[str, str]) -> None:
    reply = http.post(FHIR, json=base("Bundle"), headers=auth)
    assert reply.status_code == 200, reply.get_json()
    locations = [e["response"]["location"] for e in reply.get_json()["entry"]]
    enc_id = locations[0].split("/")[1]
    cond_id = locations[1].split("/")[1]
    cond = http.get(f"{FHIR}/Condition/{cond_id}", headers=auth).get_json()
    assert cond["encounter"]["reference"] == f"Encounter/{enc_id}"
    again = http.post(FHIR, json=base("Bundle"), headers=auth)  # duplicates -> nothing applied
    assert again.status_code == 400
    assert len(http.get(f"{FHIR}/Condition", headers=auth).get_json()["entry"]) == 1


@pytest.mark.parametrize(("fault", "status"), [(429, 429), (500, 500)])
def test_scripted_faults(sim: Any, http: FlaskClient, auth: dict[str, str], fault: int, status: int) -> None:
    http.post("/__sim__/faults", json={"script": [fault]})
    response = http.get(f"{FHIR}/Patient/100000030009", headers=auth)
    assert response.status_code == status
    if status == 500:
        assert response.mimetype == "text/plain"
    assert http.get(f"{FHIR}/Patient/100000030009", headers=auth).status_code == 200


def test_expire_fault_revokes_token(http: FlaskClient, auth: dict[str, str]) -> None:
    http.post("/__sim__/faults", json={"script": ["expire"]})
    assert http.get(f"{FHIR}/Patient/100000030009", headers=auth).status_code == 401
    assert http.get(f"{FHIR}/Patient/100000030009", headers=auth).status_code == 401


def test_drop_fault_processes_then_loses_reply(sim: Any, http: FlaskClient, auth: dict[str, str]) -> None:
    http.post("/__sim__/faults", json={"script": ["drop"]})
    with httpx.Client(transport=DroppingTransport(sim), base_url="http://sim") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{FHIR}/Encounter", json=encounter("arrived"), headers=auth)
    found = http.get(f"{FHIR}/Encounter?identifier=http://sys-ids.kemkes.go.id/encounter/{ORG}|RJ-2024-0001",
                     headers=auth)  # fmt: skip
    assert found.get_json()["total"] == 1  # the server did create it


@pytest.mark.parametrize(
    ("query", "total"),
    [
        ("name=budi&birthdate=1980&gender=male", 1),
        ("name=budi&birthdate=1981", 0),
        ("nik=3174031002890009", 1),
        ("identifier=https://fhir.kemkes.go.id/id/nik-ibu|3174031002890009", 0),
    ],
)
def test_patient_searches(http: FlaskClient, auth: dict[str, str], query: str, total: int) -> None:
    assert http.get(f"{FHIR}/Patient?{query}", headers=auth).get_json()["total"] == total


def test_unknown_search_parameter_is_refused(http: FlaskClient, auth: dict[str, str]) -> None:
    response = http.get(f"{FHIR}/Patient?favourite-colour=blue", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "not-supported"
