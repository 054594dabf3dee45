import json

import pytest

from adapters.bpjs.crypto import Credentials, decrypt_response, make_headers
from bridge.simulators import create_simulator
from bridge.simulators.bpjs import create_app

NOW = 1795500000.0
CREDS = Credentials("1000", "sim-secret", "uk-vclaim")


@pytest.fixture
def sim():
    return create_app({"CLOCK": lambda: NOW}).test_client()


def _headers(ts=str(int(NOW)), creds=CREDS):
    return make_headers(creds, ts)


def test_answer_is_encrypted_with_the_request_timestamp(sim):
    reply = sim.get("/vclaim-rest/Rujukan/030107010217Y001465", headers=_headers())
    body = reply.get_json()
    assert reply.status_code == 200 and body["metaData"] == {"code": "200", "message": "OK"}
    assert isinstance(body["response"], str)
    plain = json.loads(decrypt_response(body["response"], CREDS, str(int(NOW))))
    assert plain["rujukan"]["noKunjungan"] == "030107010217Y001465"
    assert reply.headers["Date"] == "Tue, 24 Nov 2026 06:00:00 GMT"


def test_plain_mode(sim):
    plain = create_app({"CLOCK": lambda: NOW, "ENCRYPT": False}).test_client()
    body = plain.get("/vclaim-rest/referensi/propinsi", headers=_headers()).get_json()
    assert body["response"] == {"list": [{"kode": "15", "nama": "JAWA TIMUR"}]}


def test_pcare_envelope_has_numeric_code(sim):
    headers = make_headers(Credentials("1000", "sim-secret", "uk-pcare"), str(int(NOW)))
    headers["X-Authorization"] = "Basic " + __import__("base64").b64encode(b"pcare-user:pcare-pass:095").decode()
    body = sim.get("/pcare-rest/kunjungan/rujukan/unknown", headers=headers).get_json()
    assert body["metaData"] == {"code": 204, "message": "NO_CONTENT"} and body["response"] is None


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda h: h.pop("X-signature"), "required"),
        (lambda h: h.update({"X-signature": "AAAA"}), "Signature"),
        (lambda h: h.update({"X-cons-id": "9999"}), "tidak terdaftar"),
        (lambda h: h.update({"X-timestamp": "2026-11-23T04:00:00Z"}), "skew"),
        (lambda h: h.pop("user_key"), "user_key"),
    ],
)
def test_auth_failures(sim, mutate, needle):
    headers = _headers()
    mutate(headers)
    reply = sim.get("/vclaim-rest/Rujukan/030107010217Y001465", headers=headers)
    body = reply.get_json()
    assert reply.status_code == 401 and body["metaData"]["code"] == "401" and needle in body["metaData"]["message"]
    assert body["response"] is None


def test_skew_tolerance_boundary(sim):
    assert sim.get("/vclaim-rest/referensi/propinsi", headers=_headers(str(int(NOW) + 300))).status_code == 200
    assert sim.get("/vclaim-rest/referensi/propinsi", headers=_headers(str(int(NOW) + 301))).status_code == 401


def test_unknown_path_and_wrong_method_are_html(sim):
    for reply in (sim.get("/vclaim-rest/Rujukan/2.0/insert/x"), sim.get("/vclaim-rest/Rujukan/2.0/insert")):
        assert reply.status_code == 404 and reply.mimetype == "text/html"
        assert b"404 - File or directory not found" in reply.data


def test_invalid_json_body(sim):
    reply = sim.post("/vclaim-rest/Rujukan/2.0/insert", data=b"{not json", headers=_headers())
    body = reply.get_json()
    assert body["metaData"]["code"] == "201" and "JSON" in body["metaData"]["message"]


def test_insert_refuses_a_sep_of_another_ppk():
    other = create_app(
        {
            "CLOCK": lambda: NOW,
            "CONSUMERS": {"1000": {"secret": "sim-secret", "services": ["vclaim"], "ppk": "0301R002"}},
        }
    ).test_client()
    t = {
        "noSep": "0301R0011126V000003",
        "tglRujukan": "2026-11-23",
        "tglRencanaKunjungan": "2026-11-25",
        "ppkDirujuk": "0301R001",
        "jnsPelayanan": "2",
        "catatan": "",
        "diagRujukan": "I20.9",
        "tipeRujukan": "0",
        "poliRujukan": "INT",
        "user": "op",
    }
    body = other.post(
        "/vclaim-rest/Rujukan/2.0/insert", data=json.dumps({"request": {"t_rujukan": t}}), headers=_headers()
    ).get_json()
    assert body["metaData"]["message"] == "No.SEP bukan milik PPK anda"


def test_registered_with_the_lead_simulator_factory():
    app = create_simulator("bpjs", {"CLOCK": lambda: NOW})
    assert app.name == "jembatan-bpjs-simulator"
