import copy
import json

import pytest

from adapters.base import MapContext
from adapters.bpjs import register
from adapters.bpjs.codec import BpjsJsonCodec
from adapters.bpjs.models import BpjsPayload, detect_kind, normalise
from adapters.bpjs.rules import BpjsProfileValidator, BpjsSchemaValidator
from adapters.registry import FormatRegistry
from bridge.errors import DecodeError
from tests.bpjs.bpjs_samples import INSERT, KUNJUNGAN, PCARE_RUJUKAN, RUJUKAN_FKTP, RUJUKAN_RS

PROFILE = BpjsProfileValidator()


def _ids(payload, ctx=None):
    outcome = PROFILE.validate(payload, ctx or MapContext())
    return {(i.message_id, i.location[0] if i.location else None) for i in outcome.issues}


def _insert(**changes):
    doc = copy.deepcopy(INSERT)
    doc["request"]["t_rujukan"].update(changes)
    return BpjsPayload("vclaim-rujukan-insert", doc)


@pytest.mark.parametrize("doc", [RUJUKAN_FKTP, RUJUKAN_RS, INSERT, KUNJUNGAN, PCARE_RUJUKAN])
def test_samples_are_clean(doc):
    assert PROFILE.validate(doc, MapContext()).issues == []


def test_tipe_rujukan_out_of_range():
    assert ("GW-4210", "/request/t_rujukan/tipeRujukan") in _ids(_insert(tipeRujukan="3"))


def test_rujuk_balik_needs_empty_poli():
    ids = _ids(_insert(tipeRujukan="2", poliRujukan="INT"))
    assert ("GW-4211", "/request/t_rujukan/poliRujukan") in ids
    assert ("GW-4201", "/request/t_rujukan/poliRujukan") not in ids  # the rule explains it once


def test_full_referral_needs_poli():
    assert ("GW-4212", "/request/t_rujukan/poliRujukan") in _ids(_insert(tipeRujukan="0", poliRujukan=""))


def test_rujuk_balik_with_empty_poli_is_fine():
    assert _ids(_insert(tipeRujukan="2", poliRujukan="")) == set()


def test_ppk_must_have_8_characters():
    assert ("GW-4213", "/request/t_rujukan/ppkDirujuk") in _ids(_insert(ppkDirujuk="0301R01"))


def test_card_must_be_13_digits():
    doc = copy.deepcopy(RUJUKAN_FKTP)
    doc["rujukan"]["peserta"]["noKartu"] = "12345"
    assert ("GW-4214", "/rujukan/peserta/noKartu") in _ids(BpjsPayload("vclaim-rujukan", doc))


def test_nik_must_be_16_digits():
    doc = copy.deepcopy(RUJUKAN_FKTP)
    doc["rujukan"]["peserta"]["nik"] = "35070145"
    assert ("GW-4218", "/rujukan/peserta/nik") in _ids(BpjsPayload("vclaim-rujukan", doc))


def test_icd10_format_without_terminology():
    assert ("GW-4216", "/request/t_rujukan/diagRujukan") in _ids(_insert(diagRujukan="chest pain"))


class FakeTerminology:
    def __init__(self, known):
        self.known = known
        self.asked = []

    def validate_code(self, system, code):
        self.asked.append((system, code))
        return {"result": code in self.known, "message": None if code in self.known else "not in ICD-10 2010"}


def test_icd10_through_terminology():
    tx = FakeTerminology({"I20.9"})
    ctx = MapContext(terminology=tx)
    assert _ids(_insert(diagRujukan="I20.9"), ctx) == set()
    assert ("GW-4215", "/request/t_rujukan/diagRujukan") in _ids(_insert(diagRujukan="Z99.99"), ctx)
    assert ("http://hl7.org/fhir/sid/icd-10", "Z99.99") in tx.asked


def test_terminology_not_supporting_system_falls_back_to_format():
    class Nope:
        def validate_code(self, system, code):
            return None

    assert ("GW-4216", "/request/t_rujukan/diagRujukan") in _ids(
        _insert(diagRujukan="xx"), MapContext(terminology=Nope())
    )


def test_rujukan_diagnosa_and_khusus_codes_are_checked():
    tx = FakeTerminology(set())
    doc = {"noRujukan": "0301R0011126B000012", "diagnosa": [{"kode": "P;N18"}], "procedure": [], "user": "x"}
    ids = _ids(BpjsPayload("vclaim-rujukan-khusus-insert", doc), MapContext(terminology=tx))
    assert ("GW-4215", "/diagnosa/0/kode") in ids and tx.asked == [("http://hl7.org/fhir/sid/icd-10", "N18")]


def test_vclaim_date_format():
    assert ("GW-4217", "/request/t_rujukan/tglRujukan") in _ids(_insert(tglRujukan="24-11-2026"))


def test_pcare_date_format():
    doc = dict(KUNJUNGAN, tglDaftar="2026-11-20")
    assert ("GW-4217", "/tglDaftar") in _ids(BpjsPayload("pcare-kunjungan", doc))


def test_plan_before_referral_date():
    assert ("GW-4219", "/request/t_rujukan/tglRencanaKunjungan") in _ids(_insert(tglRencanaKunjungan="2026-11-01"))


def test_pcare_referred_without_rujuk_lanjut():
    doc = dict(KUNJUNGAN, rujukLanjut=None)
    assert ("GW-4220", "/rujukLanjut") in _ids(BpjsPayload("pcare-kunjungan", doc))


def test_missing_field_is_located():
    doc = copy.deepcopy(INSERT)
    del doc["request"]["t_rujukan"]["user"]
    assert ("GW-4201", "/request/t_rujukan/user") in _ids(doc)


def test_unknown_field_is_a_warning():
    doc = copy.deepcopy(INSERT)
    doc["request"]["t_rujukan"]["satuSehatRujukan"] = {}
    outcome = PROFILE.validate(doc, MapContext())
    assert outcome.ok and outcome.issues[0].message_id == "GW-4202"


def test_unrecognised_payload():
    outcome = BpjsSchemaValidator().validate({"foo": 1}, MapContext())
    assert outcome.message_ids() == ["GW-4221"]


def test_schema_validator_only_schema():
    outcome = BpjsSchemaValidator().validate(_insert(tipeRujukan="2", poliRujukan="INT"), MapContext())
    assert outcome.message_ids() == ["GW-4201"]


def test_normalise_numbers_and_trailing_spaces():
    data = normalise({"programPRB": "01 ", "jumlahSEP": 1, "nested": [{"kode": " INT"}], "nama": " x "})
    assert data == {"programPRB": "01", "jumlahSEP": "1", "nested": [{"kode": "INT"}], "nama": " x "}


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        (RUJUKAN_FKTP, "vclaim-rujukan"),
        (INSERT, "vclaim-rujukan-insert"),
        (KUNJUNGAN, "pcare-kunjungan"),
        ({"request": {"t_rujukan": {"noRujukan": "x", "user": "u"}}}, "vclaim-rujukan-delete"),
        ({"request": {"t_prb": {}}}, "vclaim-prb-insert"),
        ({"rujukan": [RUJUKAN_RS["rujukan"]]}, "vclaim-rujukan-list"),
        ({"jumlahSEP": "1"}, "vclaim-jumlah-sep"),
    ],
)
def test_detect_kind(doc, kind):
    assert detect_kind(doc) == kind


def test_codec_unwraps_plain_envelope_and_normalises():
    body = json.dumps({"metaData": {"code": 200, "message": "OK"}, "response": {"jumlahSEP": 2}}).encode()
    payload = BpjsJsonCodec("bpjs.json", None).parse(body)
    assert payload.kind == "vclaim-jumlah-sep" and payload.data == {"jumlahSEP": "2"}


def test_codec_refuses_error_envelope_encrypted_response_and_html():
    codec = BpjsJsonCodec("bpjs.vclaim.rujukan", "vclaim-rujukan")
    with pytest.raises(DecodeError, match="Data tidak ditemukan"):
        codec.parse(b'{"metaData": {"code": "201", "message": "Data tidak ditemukan"}, "response": null}')
    with pytest.raises(DecodeError) as err:
        codec.parse(b'{"metaData": {"code": "200", "message": "OK"}, "response": "q83vEjRWeJA="}')
    assert err.value.code == "GW-1422"
    with pytest.raises(DecodeError) as err:
        codec.parse(b"<html><title>404</title></html>")
    assert err.value.code == "GW-1401"


def test_codec_serialize_round_trip():
    codec = BpjsJsonCodec("bpjs.vclaim.rujukan-insert", "vclaim-rujukan-insert")
    payload = codec.parse(json.dumps(INSERT).encode())
    assert json.loads(codec.serialize(payload)) == INSERT


def test_register_formats_and_profile():
    registry = FormatRegistry()
    register(registry)
    ids = [f.format_id for f in registry]
    assert ids == [
        "bpjs.json",
        "bpjs.pcare.kunjungan",
        "bpjs.pcare.rujukan",
        "bpjs.vclaim.rujukan",
        "bpjs.vclaim.rujukan-insert",
    ]
    fmt, validators = registry.checker("bpjs")
    assert fmt.format_id == "bpjs.json" and isinstance(validators[0], BpjsProfileValidator)
    insert = registry.get("bpjs.vclaim.rujukan-insert")
    payload = insert.codec.parse(json.dumps(INSERT).encode())
    assert insert.idempotency_key(payload) == "0301R0011126V000003|2026-11-24|0301R002"
