import json

import pytest

from tests.helpers import make_app, new_key

PATIENT = {"resourceType": "Patient", "gender": "female", "birthDate": "1990-01-31"}
FHIR = "application/fhir+json"


def _post(client, headers, body, content_type=FHIR, channel="fhir-intake"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(f"/channels/{channel}/messages", data=data, content_type=content_type, headers=headers)


def _message_id(resp):
    return resp.json["issue"][0]["details"]["coding"][0]["code"]


def test_health_needs_no_key(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.json["database"] == "ok"


@pytest.mark.parametrize("path", ["/formats", "/openapi.json", "/transactions/x"])
def test_every_other_endpoint_needs_a_key(client, path):
    resp = client.get(path)
    assert resp.status_code == 401
    assert resp.json["resourceType"] == "OperationOutcome"
    assert _message_id(resp) == "GW-6101"


def test_wrong_key_is_refused(client):
    resp = client.get("/formats", headers={"Authorization": "Bearer jmb_000000000000_nope"})
    assert resp.status_code == 401
    assert _message_id(resp) == "GW-6102"


def test_revoked_key_is_refused(app, client, runner, api_key):
    key_id = api_key.split("_")[1]
    assert runner.invoke(args=["apikey", "revoke", key_id]).exit_code == 0
    resp = client.get("/formats", headers={"Authorization": f"Bearer {api_key}"})
    assert resp.status_code == 401


def test_key_limited_to_other_channel_gets_403(app, client):
    key = new_key(app, "lab", channels=["lab-only"])
    resp = _post(client, {"Authorization": f"Bearer {key}"}, PATIENT)
    assert resp.status_code == 403
    assert _message_id(resp) == "GW-6103"


def test_cli_prints_a_working_key_as_last_line(client, runner):
    result = runner.invoke(args=["apikey", "create", "--name", "vendor-x"])
    key = result.output.strip().splitlines()[-1]
    assert client.get("/formats", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_accepted_message_is_stored_with_outcome_and_timings(client, auth_headers):
    resp = _post(client, auth_headers, PATIENT)
    assert resp.status_code == 200
    assert resp.json["status"] == "accepted"
    tx = client.get(f"/transactions/{resp.json['transactionId']}?include=payload", headers=auth_headers).json
    assert set(tx["timingsMs"]) == {"decode", "to_fhir", "translate", "validate", "from_fhir", "encode"}
    assert json.loads(tx["raw"]) == PATIENT
    assert [h["status"] for h in tx["statusHistory"]] == ["received", "accepted"]
    assert tx["createdAt"].endswith("+00:00")


def test_malformed_json_is_a_located_422(client, auth_headers):
    resp = _post(client, auth_headers, b'{"resourceType": "Patient",')
    assert resp.status_code == 422
    issue = resp.json["outcome"]["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "GW-1201"
    assert issue["location"] == ["line 1, col 28"]


def test_wrong_content_type_is_415(client, auth_headers):
    resp = _post(client, auth_headers, PATIENT, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415
    assert resp.json["issue"][0]["code"] == "not-supported"


def test_oversize_body_is_413(tmp_path):
    app = make_app(tmp_path, MAX_CONTENT_LENGTH=1000)
    headers = {"Authorization": f"Bearer {new_key(app)}"}
    resp = _post(app.test_client(), headers, {"resourceType": "Patient", "id": "x" * 2000})
    assert resp.status_code == 413
    assert resp.json["resourceType"] == "OperationOutcome"
    assert "1000 bytes" in resp.json["issue"][0]["details"]["text"]


def test_empty_body_is_400(client, auth_headers):
    resp = _post(client, auth_headers, b"")
    assert resp.status_code == 400


def test_unknown_channel_and_route_are_404_outcomes(client, auth_headers):
    assert _post(client, auth_headers, PATIENT, channel="nope").status_code == 404
    resp = client.get("/no/such/route", headers=auth_headers)
    assert resp.status_code == 404
    assert resp.json["resourceType"] == "OperationOutcome"


def test_wrong_method_is_405_outcome(client, auth_headers):
    resp = client.delete("/formats", headers=auth_headers)
    assert resp.status_code == 405
    assert resp.json["resourceType"] == "OperationOutcome"


def test_conformance_ok_is_200_and_errors_are_422_with_every_issue(client, auth_headers):
    ok = client.post(
        "/conformance/fhir+json/$validate", data=json.dumps(PATIENT), content_type=FHIR, headers=auth_headers
    )
    assert ok.status_code == 200
    bad = client.post(
        "/conformance/fhir+json/$validate",
        content_type=FHIR,
        headers=auth_headers,
        data=json.dumps({"resourceType": "Patient", "gender": 1, "active": "maybe"}),
    )
    assert bad.status_code == 422
    expressions = {i["expression"][0] for i in bad.json["issue"]}
    assert expressions == {"Patient.gender", "Patient.active"}


def test_conformance_unknown_profile_is_400(client, auth_headers):
    resp = client.post("/conformance/nope/$validate", data=b"{}", content_type=FHIR, headers=auth_headers)
    assert resp.status_code == 400
    assert _message_id(resp) == "GW-1001"


def test_openapi_lists_the_api(client, auth_headers):
    doc = client.get("/openapi.json", headers=auth_headers).json
    assert doc["openapi"].startswith("3.")
    assert "/channels/{name}/messages" in doc["paths"]


def test_unexpected_error_is_a_500_outcome_without_traceback(app, client, auth_headers, monkeypatch):
    import bridge.api

    def boom(*args, **kwargs):
        raise RuntimeError("secret patient data")

    monkeypatch.setattr(bridge.api, "ingest", boom)
    resp = _post(client, auth_headers, PATIENT)
    assert resp.status_code == 500
    assert "secret" not in resp.get_data(as_text=True)
    assert resp.json["issue"][0]["severity"] == "fatal"


ADT = (
    b"MSH|^~\\&|SIMRS|RSUD|JEMBATAN|DINKES|20261124083000+0700||ADT^A04^ADT_A01|CTRL-1|P|2.5\r"
    b"PID|1||3204015506900002^^^NIK||Rahmawati^Siti||19900615|F\r"
    b"PV1|1|O\r"
)


def test_hl7v2_over_http_answers_the_mllp_ack_and_replays_it(client, auth_headers):
    headers = {**auth_headers, "Accept": "x-application/hl7-v2+er7"}
    first = _post(client, headers, ADT, content_type="x-application/hl7-v2+er7", channel="hl7v2-demo")
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.mimetype == "x-application/hl7-v2+er7"
    assert b"MSA|AA|CTRL-1" in first.data
    again = _post(client, headers, ADT, content_type="text/plain", channel="hl7v2-demo")
    assert again.data == first.data
    as_json = _post(client, auth_headers, ADT, content_type="text/plain", channel="hl7v2-demo")
    assert as_json.json["duplicate"] is True


def test_revocation_elsewhere_applies_once_the_key_cache_expires(tmp_path):
    from bridge.auth import revoke_key
    from bridge.db import get_db

    app = make_app(tmp_path, API_KEY_CACHE_SECONDS=0.2)
    key = new_key(app)
    headers = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    assert client.get("/formats", headers=headers).status_code == 200
    with get_db(app).session() as sess:  # as another process would
        revoke_key(sess, key.split("_")[1])
    import time

    time.sleep(0.3)
    assert client.get("/formats", headers=headers).status_code == 401
