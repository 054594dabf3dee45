import json

from tests.bpjs.bpjs_samples import INSERT, RUJUKAN_FKTP


def test_validate_endpoint_clean(client, auth_headers):
    reply = client.post(
        "/conformance/bpjs/$validate",
        data=json.dumps(INSERT),
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert reply.status_code == 200, reply.get_json()


def test_validate_endpoint_reports_rules(client, auth_headers):
    bad = json.loads(json.dumps(INSERT))
    bad["request"]["t_rujukan"].update(tipeRujukan="2", poliRujukan="INT", ppkDirujuk="0301R2")
    reply = client.post(
        "/conformance/bpjs/$validate",
        data=json.dumps(bad),
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert reply.status_code == 422
    found = {(i["details"]["coding"][0]["code"], i["location"][0]) for i in reply.get_json()["issue"]}
    assert ("GW-4211", "/request/t_rujukan/poliRujukan") in found
    assert ("GW-4213", "/request/t_rujukan/ppkDirujuk") in found


def test_cli_convert_rujukan_to_fhir(runner, tmp_path):
    source = tmp_path / "rujukan.json"
    source.write_text(json.dumps(RUJUKAN_FKTP))
    result = runner.invoke(args=["convert", "--from", "bpjs.vclaim.rujukan", "--to", "fhir+json", str(source)])
    assert result.exit_code == 0, result.output
    bundle = json.loads(result.stdout)
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["Condition", "Coverage", "Organization", "Organization", "Patient", "ServiceRequest"]


def test_cli_validate_bpjs(runner, tmp_path):
    source = tmp_path / "insert.json"
    source.write_text(json.dumps(INSERT))
    result = runner.invoke(args=["validate", "--format", "bpjs", str(source)])
    assert result.exit_code == 0, result.output


def test_init_app_sets_upstream_defaults(app):
    assert app.config["UPSTREAMS"]["bpjs"]["environment"] == "development"
    assert app.config["UPSTREAMS"]["bpjs"]["timeout"] == 8.0
