import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator

from adapters.base import MapContext
from adapters.bpjs import register
from adapters.bpjs.models import KINDS
from adapters.bpjs.schemas import SCHEMA_DIR, load_schema, schema_issues
from adapters.registry import FormatRegistry
from bridge.simulators.bpjs import create_app
from bridge.upstreams.bpjs.client import BpjsClient, BpjsConfig, pcare_date
from mappings.registry import MappingRegistry
from tests.bpjs.bpjs_samples import INSERT, KUNJUNGAN

GOLDEN = Path(__file__).parent / "golden"
NOW = 1795500000.0
TODAY = dt.datetime.fromtimestamp(NOW, dt.UTC).date()


def test_every_kind_has_a_valid_schema_and_nothing_else():
    assert sorted(p.name.removesuffix(".schema.json") for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(KINDS)
    for kind in KINDS:
        Draft202012Validator.check_schema(load_schema(kind))


@pytest.mark.parametrize(
    ("name", "format_id"),
    [
        ("rujukan-fktp", "bpjs.vclaim.rujukan"),
        ("rujukan-insert", "bpjs.vclaim.rujukan-insert"),
        ("pcare-kunjungan", "bpjs.pcare.kunjungan"),
        ("pcare-rujukan", "bpjs.pcare.rujukan"),
    ],
)
def test_golden_fhir_output(name, format_id):
    registry = FormatRegistry()
    register(registry)
    fmt = registry.get(format_id)
    raw = (GOLDEN / f"{name}.in.json").read_bytes()
    bundle = fmt.mapper.to_fhir(fmt.codec.parse(raw), MapContext(MappingRegistry()))
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text(encoding="utf-8"))
    assert bundle.model_dump(mode="json", exclude_none=True) == expected


def test_simulator_answers_match_the_response_schemas():
    sim = create_app({"CLOCK": lambda: NOW})
    config = BpjsConfig(
        cons_id="1000",
        secret="sim-secret",
        user_keys={"vclaim": "uk-vclaim", "pcare": "uk-pcare"},
        base_urls={"vclaim": "http://sim/vclaim-rest", "pcare": "http://sim/pcare-rest"},
        pcare_username="pcare-user",
        pcare_password="pcare-pass",
    )
    with BpjsClient(config, transport=httpx.WSGITransport(app=sim), clock=lambda: NOW) as bpjs:
        t = dict(INSERT["request"]["t_rujukan"], tglRujukan=TODAY.isoformat(), tglRencanaKunjungan=TODAY.isoformat())
        inserted = bpjs.insert_rujukan(t)
        number = inserted["rujukan"]["noRujukan"]
        visit = bpjs.pcare_insert_kunjungan(dict(KUNJUNGAN, tglDaftar=pcare_date(TODAY), tglPulang=pcare_date(TODAY)))
        answers = {
            "vclaim-rujukan": [
                bpjs.rujukan("030107010217Y001465"),
                bpjs.rujukan_rs(number),
                bpjs.rujukan_by_card("0001234567890"),
                bpjs.rujukan(visit["message"]),
            ],
            "vclaim-rujukan-list": [
                bpjs.rujukan_list_by_card("0001234567890"),
                bpjs.rujukan_list_by_card("0001234567890", rs=True),
            ],
            "vclaim-rujukan-insert-response": [inserted],
            "vclaim-rujukan-keluar": [bpjs.rujukan_keluar(number)],
            "vclaim-rujukan-keluar-list": [bpjs.rujukan_keluar_list(TODAY, TODAY)],
            "vclaim-rujukan-khusus-response": [
                bpjs.insert_rujukan_khusus("030107010217Y000777", ["P;N18.5"], [], "op")
            ],
            "vclaim-jumlah-sep": [bpjs.jumlah_sep(number)],
            "vclaim-list-spesialistik": [bpjs.list_spesialistik("0301R002", TODAY)],
            "vclaim-list-sarana": [bpjs.list_sarana("0301R002")],
            "vclaim-referensi": [
                bpjs.referensi_diagnosa("I20"),
                bpjs.referensi_poli("INT"),
                bpjs.referensi_faskes("RS", 2),
                bpjs.referensi_propinsi(),
            ],
            "pcare-rujukan": [bpjs.pcare_rujukan(visit["message"])],
        }
    for kind, docs in answers.items():
        for doc in docs:
            assert schema_issues(kind, doc).issues == [], (kind, doc)
