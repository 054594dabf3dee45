import json
import re

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


def _app_with_simulator(tmp_path, secret="sim-secret"):
    import httpx

    from bridge.simulators.bpjs import create_app as create_simulator
    from bridge.upstreams.bpjs import TRANSPORT_KEY
    from tests.helpers import make_app

    settings = {
        "cons_id": "1000",
        "secret": secret,
        "user_keys": {"vclaim": "uk-vclaim"},
        "base_urls": {"vclaim": "http://sim/vclaim-rest"},
    }
    app = make_app(tmp_path, UPSTREAMS={"bpjs": settings})
    app.extensions[TRANSPORT_KEY] = httpx.WSGITransport(app=create_simulator())
    return app


def test_cli_bpjs_check(tmp_path):
    app = _app_with_simulator(tmp_path)
    result = app.test_cli_runner().invoke(args=["bpjs", "check"])
    assert result.exit_code == 0, result.output
    assert "signature and decryption work" in result.output
    assert re.search(r"clock skew [+-][01] s", result.output)  # the Date header has whole seconds


def test_cli_bpjs_check_reports_refusal(tmp_path):
    app = _app_with_simulator(tmp_path, secret="wrong")
    result = app.test_cli_runner().invoke(args=["bpjs", "check"])
    assert result.exit_code == 1 and "GW-5242" in result.output


def test_cli_bpjs_check_without_settings(runner):
    result = runner.invoke(args=["bpjs", "check"])
    assert result.exit_code == 1 and "GW-7402" in result.output


def test_cli_convert_fhir_referral_to_rujukan_insert(tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    from tests.bpjs.test_bpjs_e2e import simrs_referral
    from tests.helpers import make_app

    app = make_app(tmp_path, FACILITY={"bpjs_user": "jembatan"})
    source = tmp_path / "referral.json"
    source.write_text(Bundle.model_validate(simrs_referral()).model_dump_json(exclude_none=True))
    result = app.test_cli_runner().invoke(
        args=["convert", "--from", "fhir+json", "--to", "bpjs.vclaim.rujukan-insert", str(source)]
    )
    assert result.exit_code == 0, result.output
    t = json.loads(result.stdout)["request"]["t_rujukan"]
    assert (t["poliRujukan"], t["tipeRujukan"], t["jnsPelayanan"], t["user"]) == ("JAN", "0", "2", "jembatan")
