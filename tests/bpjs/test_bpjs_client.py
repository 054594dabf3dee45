import datetime as dt
import json
import logging

import httpx
import pytest

from adapters.bpjs.crypto import Credentials, encrypt_response
from bridge.errors import ConfigError, DecodeError
from bridge.simulators.bpjs import create_app
from bridge.upstreams.bpjs.client import (
    BpjsClient,
    BpjsConfig,
    BpjsRejected,
    BpjsUnavailable,
    pcare_date,
    vclaim_date,
)
from tests.bpjs.bpjs_samples import INSERT, KUNJUNGAN

NOW = 1795500000.0  # 2026-11-24 06:00 UTC
TODAY = dt.datetime.fromtimestamp(NOW, dt.UTC).date()
BASES = {"vclaim": "http://sim/vclaim-rest", "pcare": "http://sim/pcare-rest"}


def _config(**changes):
    settings = {
        "cons_id": "1000",
        "secret": "sim-secret",
        "user_keys": {"vclaim": "uk-vclaim", "pcare": "uk-pcare"},
        "base_urls": BASES,
        "pcare_username": "pcare-user",
        "pcare_password": "pcare-pass",
    }
    settings.update(changes)
    return BpjsConfig(**settings)


@pytest.fixture
def sim():
    return create_app({"CLOCK": lambda: NOW})


@pytest.fixture
def bpjs_client(sim):
    with BpjsClient(_config(), transport=httpx.WSGITransport(app=sim), clock=lambda: NOW) as c:
        yield c


def _insert_body(**changes):
    t = dict(
        INSERT["request"]["t_rujukan"],
        tglRujukan=TODAY.isoformat(),
        tglRencanaKunjungan=(TODAY + dt.timedelta(days=3)).isoformat(),
    )
    t.update(changes)
    return t


def _rejected(call, *args, **kwargs):
    with pytest.raises(BpjsRejected) as err:
        call(*args, **kwargs)
    return err.value


# ---------------------------------------------------------------- lookups


def test_rujukan_fktp_by_number(bpjs_client):
    found = bpjs_client.rujukan("030107010217Y001465")["rujukan"]
    assert found["peserta"]["noKartu"] == "0001234567890" and found["poliRujukan"]["kode"] == "JAN"


def test_expired_referral(bpjs_client):
    err = _rejected(bpjs_client.rujukan, "030107010217Y000001")
    assert err.bpjs_code == 201 and "tidak berlaku" in err.bpjs_message and err.code == "GW-5241"


def test_unknown_referral(bpjs_client):
    assert "tidak ditemukan" in _rejected(bpjs_client.rujukan, "030107010217Y999999").bpjs_message


def test_rujukan_by_card_single_and_list(bpjs_client):
    assert bpjs_client.rujukan_by_card("0001234567890")["rujukan"]["noKunjungan"] == "030107010217Y001465"
    listed = bpjs_client.rujukan_list_by_card("0009876543210")["rujukan"]
    assert [r["noKunjungan"] for r in listed] == ["030107010217Y000777"]  # the expired one is not listed


def test_unknown_card(bpjs_client):
    assert _rejected(bpjs_client.rujukan_by_card, "0000000000000").bpjs_message == "Peserta tidak ditemukan"


def test_jumlah_sep(bpjs_client):
    assert bpjs_client.jumlah_sep("030107010217Y001465") == {"jumlahSEP": "1"}
    assert bpjs_client.jumlah_sep("030107010217Y000777", asal=1) == {"jumlahSEP": "0"}


def test_spesialistik_and_sarana(bpjs_client):
    assert bpjs_client.list_spesialistik("0301R002", TODAY)["list"][0]["kodeSpesialis"] == "JAN"
    assert {"kodeSarana": "1", "namaSarana": "Rekam Medik"} in bpjs_client.list_sarana("0301R002")["list"]
    assert "PPK" in _rejected(bpjs_client.list_sarana, "9999R999").bpjs_message


@pytest.mark.parametrize(
    ("call", "args", "key"),
    [
        ("referensi_diagnosa", ("I20",), "diagnosa"),
        ("referensi_poli", ("jantung",), "poli"),
        ("referensi_faskes", ("KANJURUHAN", 2), "faskes"),
        ("referensi_dokter", (2, TODAY, "JAN"), "list"),
        ("referensi_propinsi", (), "list"),
        ("referensi_kabupaten", ("15",), "list"),
        ("referensi_kecamatan", ("0227",), "list"),
        ("referensi_diagnosa_prb", (), "list"),
    ],
)
def test_referensi(bpjs_client, call, args, key):
    rows = getattr(bpjs_client, call)(*args)[key]
    assert rows and all({"kode", "nama"} <= set(r) for r in rows)


def test_referensi_not_found(bpjs_client):
    assert _rejected(bpjs_client.referensi_poli, "zzz").bpjs_code == 201


# ---------------------------------------------------------------- changes


def test_insert_update_delete_cycle(bpjs_client):
    answer = bpjs_client.insert_rujukan(_insert_body())["rujukan"]
    number = answer["noRujukan"]
    assert number.startswith("0301R001") and "B" in number and len(number) == 19
    assert answer["tujuanRujukan"]["kode"] == "0301R002" and answer["AsalRujukan"]["kode"] == "0301R001"
    validity = dt.date.fromisoformat(answer["tglBerlakuKunjungan"]) - TODAY
    assert validity.days == 90
    assert bpjs_client.rujukan_rs(number)["rujukan"]["noKunjungan"] == number
    assert bpjs_client.rujukan_keluar(number)["rujukan"]["namaTipeRujukan"] == "Rujukan Penuh"
    assert [r["noRujukan"] for r in bpjs_client.rujukan_keluar_list(TODAY, TODAY)["list"]] == [number]
    assert bpjs_client.rujukan_by_card("0001234567890", rs=True)["rujukan"]["noKunjungan"] == number
    assert bpjs_client.rujukan_list_by_card("0001234567890", rs=True)["rujukan"][0]["noKunjungan"] == number
    update = {k: v for k, v in _insert_body(poliRujukan="SAR").items() if k != "noSep"}
    assert bpjs_client.update_rujukan({"noRujukan": number, **update}) == number
    assert bpjs_client.rujukan_keluar(number)["rujukan"]["poliRujukan"] == "SAR"
    assert bpjs_client.delete_rujukan(number, "operator") == number
    assert _rejected(bpjs_client.rujukan_keluar, number).bpjs_code == 201


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"noSep": "0301R0011126V999999"}, "No.SEP tidak ditemukan"),
        ({"ppkDirujuk": "0999R999"}, "PPK dirujuk"),
        ({"poliRujukan": "XXX"}, "Poli rujukan"),
        ({"tipeRujukan": "2", "poliRujukan": "INT"}, "rujuk balik"),
        ({"tipeRujukan": "0", "poliRujukan": ""}, "mandatory"),
    ],
)
def test_insert_business_errors(bpjs_client, changes, message):
    assert message in _rejected(bpjs_client.insert_rujukan, _insert_body(**changes)).bpjs_message


def test_rujukan_khusus(bpjs_client):
    answer = bpjs_client.insert_rujukan_khusus("030107010217Y000777", ["P;N18.5"], ["39.95"], "operator")["rujukan"]
    assert answer["nokapst"] == "0009876543210" and answer["diagppk"] == "N18.5"
    month = bpjs_client.rujukan_khusus_list(TODAY.month, TODAY.year)["rujukan"]
    assert [r["norujukan"] for r in month] == ["030107010217Y000777"]
    err = _rejected(bpjs_client.insert_rujukan_khusus, "030107010217Y001465", ["P;I20.9"], [], "operator")
    assert err.bpjs_message == "Nomor rujukan Poli Terakhir Bukan Hemodialisa"


def test_prb_insert(bpjs_client):
    t_prb = {
        "noSep": "0301R0011126V000003",
        "noKartu": "0001234567890",
        "alamat": "Jl. Merdeka 1",
        "email": "",
        "programPRB": "04",
        "kodeDPJP": "31486",
        "keterangan": "stabil",
        "saran": "kontrol FKTP",
        "user": "operator",
        "obat": [{"kdObat": "00196", "signa1": "1", "signa2": "1", "jmlObat": "30"}],
    }
    answer = bpjs_client.insert_prb(t_prb)
    assert answer["programPRB"]["kode"] == "04" and answer["noSRB"]
    assert "Program PRB" in _rejected(bpjs_client.insert_prb, dict(t_prb, programPRB="09")).bpjs_message


# ---------------------------------------------------------------- PCare


def test_pcare_kunjungan_with_referral_is_visible_in_vclaim(bpjs_client):
    visit = dict(KUNJUNGAN, tglDaftar=pcare_date(TODAY), tglPulang=pcare_date(TODAY))
    created = bpjs_client.pcare_insert_kunjungan(visit)
    number = created["message"]
    assert created["field"] == "noKunjungan" and "Y" in number and len(number) == 19
    referral = bpjs_client.pcare_rujukan(number)
    assert referral["nokaPst"] == "0001234567890" and referral["ppk"]["kdPPK"] == "0301R001"
    assert referral["tglKunjungan"] == pcare_date(TODAY)
    assert bpjs_client.rujukan(number)["rujukan"]["provPerujuk"]["kode"] == "03050301"


def test_pcare_validation_errors_come_back_as_field_list(bpjs_client):
    err = _rejected(bpjs_client.pcare_insert_kunjungan, dict(KUNJUNGAN, tglDaftar="2026-11-20"))
    assert err.bpjs_code == 412 and any(item["field"] == "/tglDaftar" for item in err.response)


def test_pcare_unknown_card(bpjs_client):
    err = _rejected(bpjs_client.pcare_insert_kunjungan, dict(KUNJUNGAN, noKartu="0000000000001"))
    assert err.response == [{"field": "noKartu", "message": "Peserta tidak ditemukan"}]


def test_pcare_needs_login(sim):
    with BpjsClient(_config(pcare_password="wrong"), transport=httpx.WSGITransport(app=sim), clock=lambda: NOW) as c:
        err = _rejected(c.pcare_rujukan, "x")
    assert err.code == "GW-5242" and "X-Authorization" in err.bpjs_message


# ---------------------------------------------------------------- auth, skew, transport


def _client_for(sim, clock=lambda: NOW, **changes):
    return BpjsClient(_config(**changes), transport=httpx.WSGITransport(app=sim), clock=clock)


def test_wrong_secret_is_refused(sim):
    err = _rejected(_client_for(sim, secret="other").rujukan, "030107010217Y001465")
    assert err.code == "GW-5242" and "Signature" in err.bpjs_message and "UTC clock" in err.message


def test_wrong_user_key_is_refused(sim):
    err = _rejected(_client_for(sim, user_keys={"vclaim": "nope"}).rujukan, "030107010217Y001465")
    assert "user_key" in err.bpjs_message


def test_clock_skew_beyond_tolerance_is_refused_and_measured(sim):
    bpjs_client = _client_for(sim, clock=lambda: NOW + 600)
    err = _rejected(bpjs_client.rujukan, "030107010217Y001465")
    assert "skew" in err.bpjs_message and "+600 s" in err.message
    assert bpjs_client.last_skew == pytest.approx(600)


def test_clock_skew_warning_before_refusal(sim, caplog):
    bpjs_client = _client_for(sim, clock=lambda: NOW - 120)
    with caplog.at_level(logging.WARNING, logger="bridge.upstreams.bpjs.client"):
        assert bpjs_client.rujukan("030107010217Y001465")["rujukan"]
    assert bpjs_client.last_skew == pytest.approx(-120)
    assert "differs from BPJS by -120 s" in caplog.text


def test_not_registered_for_service():
    sim = create_app({"CLOCK": lambda: NOW, "CONSUMERS": {"1000": {"secret": "sim-secret", "services": ["vclaim"]}}})
    err = _rejected(_client_for(sim).pcare_rujukan, "x")
    assert err.bpjs_message == "Unauthorized! You are not registered for this service!"


def test_expired_consumer():
    sim = create_app({"CLOCK": lambda: NOW, "EXPIRED_CONSUMERS": ["1000"]})
    err = _rejected(_client_for(sim).rujukan, "030107010217Y001465")
    assert err.bpjs_code == 404 and err.bpjs_message.startswith("Transaksi tidak dapat diproses")


def test_wrong_service_name_gives_html_decode_error(sim):
    bpjs_client = _client_for(sim, base_urls={"vclaim": "http://sim/vclaim-rest-devv"})
    with pytest.raises(DecodeError) as err:
        bpjs_client.rujukan("030107010217Y001465")
    assert err.value.code == "GW-1401" and "404 - File or directory not found" in err.value.message


def _mock(handler):
    return BpjsClient(_config(), transport=httpx.MockTransport(handler), clock=lambda: NOW)


def test_server_error_and_timeout_are_transient():
    page = httpx.Response(503, html="<html><title>Service Unavailable</title></html>")
    with pytest.raises(BpjsUnavailable, match="Service Unavailable"):
        _mock(lambda request: page).rujukan("x")

    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(BpjsUnavailable) as err:
        _mock(timeout).rujukan("x")
    assert err.value.code == "GW-5141"


def test_request_headers_and_body():
    seen = {}

    def handler(request):
        seen.update(headers=dict(request.headers), body=request.content, method=request.method, url=str(request.url))
        return httpx.Response(200, json={"metaData": {"code": "200", "message": "OK"}, "response": None})

    _mock(handler).delete_rujukan("0301R0011126B000001", "operator")
    assert seen["method"] == "DELETE" and seen["url"] == "http://sim/vclaim-rest/Rujukan/delete"
    assert seen["headers"]["content-type"] == "Application/x-www-form-urlencoded"
    assert seen["headers"]["x-timestamp"] == str(int(NOW)) and seen["headers"]["user_key"] == "uk-vclaim"
    assert json.loads(seen["body"]) == {
        "request": {"t_rujukan": {"noRujukan": "0301R0011126B000001", "user": "operator"}}
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"metadata": {"code": 200, "message": "Ok"}, "response": {"list": [{"kode": "1", "nama": "x"}]}},
        {"metaData": {"code": " 200", "message": "OK"}, "response": {"list": [{"kode": "1", "nama": "x"}]}},
    ],
)
def test_envelope_variants_from_the_wire(payload):
    bpjs_client = _mock(lambda request: httpx.Response(200, json=payload))
    assert bpjs_client.referensi_propinsi() == {"list": [{"kode": "1", "nama": "x"}]}


def test_unquoted_referral_number_answer():
    body = b'{"metaData":{"code":"200","message":"OK"},"response":0301R0011126B000001}'
    bpjs_client = _mock(lambda request: httpx.Response(200, content=body))
    assert bpjs_client.delete_rujukan("0301R0011126B000001", "op") == "0301R0011126B000001"


def test_answer_encrypted_for_another_timestamp_names_the_cause():
    token = encrypt_response('{"rujukan": {}}', Credentials("1000", "sim-secret"), str(int(NOW) - 1))
    bpjs_client = _mock(
        lambda request: httpx.Response(200, json={"metaData": {"code": "200", "message": "OK"}, "response": token})
    )
    with pytest.raises(DecodeError, match="wrong key") as err:
        bpjs_client.rujukan("x")
    assert "X-timestamp" in err.value.message


def test_dates_and_config():
    assert vclaim_date(dt.date(2026, 11, 5)) == "2026-11-05" and pcare_date(dt.date(2026, 11, 5)) == "05-11-2026"
    assert BpjsConfig(cons_id="1", secret="s", environment="production").base_url("vclaim").endswith("/vclaim-rest")
    assert BpjsConfig(cons_id="1", secret="s").base_url("pcare").endswith("/pcare-rest-dev")
    with pytest.raises(ConfigError):
        BpjsConfig(cons_id="1", secret="s", environment="staging")
    with pytest.raises(ConfigError):
        BpjsConfig.from_mapping({"cons_id": "1", "secret": "s", "bogus": 1})
    proxied = BpjsClient(BpjsConfig(cons_id="1", secret="s", proxy="http://proxy.example:3128"))
    assert proxied._http._mounts  # an egress proxy is mounted for every request
    proxied.close()


def test_pcare_referral_maps_to_fhir(bpjs_client):
    from adapters.base import MapContext
    from adapters.bpjs.mapper import to_bundle_model
    from adapters.bpjs.pcare_rujukan_fhir import pcare_rujukan_to_fhir
    from mappings.registry import MappingRegistry

    visit = dict(KUNJUNGAN, tglDaftar=pcare_date(TODAY), tglPulang=pcare_date(TODAY))
    number = bpjs_client.pcare_insert_kunjungan(visit)["message"]
    bundle = to_bundle_model(pcare_rujukan_to_fhir(bpjs_client.pcare_rujukan(number), MapContext(MappingRegistry())))
    data = bundle.model_dump(mode="json", exclude_none=True)
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    assert kinds.count("Organization") == 3  # target PPK, its KC, the KR
    sr = data["entry"][0]["resource"]
    assert sr["identifier"][0]["value"] == number and sr["authoredOn"] == TODAY.isoformat()
