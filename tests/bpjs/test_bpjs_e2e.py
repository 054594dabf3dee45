"""A SIMRS's FHIR referral becomes a BPJS Rujukan 2.0 insert; BPJS's answer is mapped back onto it.

(The HL7 v2 REF^I12 entry point is not covered: the HL7 v2 adapter has no REF^I12 → FHIR mapper yet.)
"""

import datetime as dt
import json

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle

from adapters.base import MapContext
from adapters.bpjs import register
from adapters.bpjs.fhirutil import SYS
from adapters.bpjs.insert_fhir import apply_insert_response
from adapters.bpjs.rules import BpjsProfileValidator
from adapters.registry import FormatRegistry
from bridge.simulators.bpjs import create_app
from bridge.upstreams.bpjs.client import BpjsClient, BpjsConfig, BpjsRejected
from mappings.registry import MappingRegistry

NOW = 1795500000.0
TODAY = dt.datetime.fromtimestamp(NOW, dt.UTC).date()
FORMATS = FormatRegistry()
register(FORMATS)


def simrs_referral(poli_snomed="394579002", referral_type="full", sep="0301R0011126V000003"):
    """What a SIMRS sends: standard codes only, no BPJS codings."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:8f7c0a8e-0c1d-4c55-9d0e-3b5f4c2a1b01",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "identifier": [{"system": SYS["sep"], "value": sep}],
                    "status": "active",
                    "intent": "order",
                    "category": [
                        {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}]}
                    ],
                    "orderDetail": [
                        {"coding": [{"system": "urn:jembatan:codesystem:referral-type", "code": referral_type}]}
                    ],
                    "subject": {"reference": "urn:uuid:8f7c0a8e-0c1d-4c55-9d0e-3b5f4c2a1b02"},
                    "authoredOn": f"{TODAY.isoformat()}T09:15:00+07:00",
                    "occurrenceDateTime": (TODAY + dt.timedelta(days=3)).isoformat(),
                    "performerType": {"coding": [{"system": "http://snomed.info/sct", "code": poli_snomed}]}
                    if poli_snomed
                    else None,
                    "performer": [{"reference": "urn:uuid:8f7c0a8e-0c1d-4c55-9d0e-3b5f4c2a1b03"}],
                    "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I20.9"}]}],
                    "note": [{"text": "mohon evaluasi jantung"}],
                },
            },
            {
                "fullUrl": "urn:uuid:8f7c0a8e-0c1d-4c55-9d0e-3b5f4c2a1b02",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": SYS["no_kartu"], "value": "0001234567890"}],
                },
            },
            {
                "fullUrl": "urn:uuid:8f7c0a8e-0c1d-4c55-9d0e-3b5f4c2a1b03",
                "resource": {
                    "resourceType": "Organization",
                    "identifier": [{"system": SYS["ppk"], "value": "0301R002"}],
                    "name": "RS SAIFUL ANWAR",
                },
            },
        ],
    }


@pytest.fixture
def bpjs():
    sim = create_app({"CLOCK": lambda: NOW})
    config = BpjsConfig(
        cons_id="1000",
        secret="sim-secret",
        user_keys={"vclaim": "uk-vclaim"},
        base_urls={"vclaim": "http://sim/vclaim-rest"},
    )
    with BpjsClient(config, transport=httpx.WSGITransport(app=sim), clock=lambda: NOW) as client:
        yield client


def _send(bundle, client):
    fmt = FORMATS.get("bpjs.vclaim.rujukan-insert")
    ctx = MapContext(mappings=MappingRegistry(), settings={"bpjs_user": "jembatan"})
    payload = fmt.mapper.from_fhir(Bundle.model_validate(bundle), ctx)
    outcome = BpjsProfileValidator().validate(payload, ctx)
    assert outcome.ok, outcome.issues
    wire = json.loads(fmt.codec.serialize(payload))
    answer = client.insert_rujukan(wire["request"]["t_rujukan"])
    return payload, Bundle.model_validate(apply_insert_response(bundle, answer)), ctx


def test_fhir_referral_to_bpjs_and_back(bpjs):
    payload, updated, ctx = _send(simrs_referral(), bpjs)
    t = payload.data["request"]["t_rujukan"]
    assert t == {
        "noSep": "0301R0011126V000003",
        "tglRujukan": TODAY.isoformat(),
        "tglRencanaKunjungan": (TODAY + dt.timedelta(days=3)).isoformat(),
        "ppkDirujuk": "0301R002",
        "jnsPelayanan": "2",
        "catatan": "mohon evaluasi jantung",
        "diagRujukan": "I20.9",
        "tipeRujukan": "0",
        "poliRujukan": "JAN",
        "user": "jembatan",
    }
    assert set(ctx.used_mappings) == {"bpjs-jenis-pelayanan", "bpjs-tipe-rujukan", "bpjs-poli"}
    data = updated.model_dump(mode="json", exclude_none=True)
    sr = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    number = sr["identifier"][0]["value"]
    assert sr["identifier"][0]["system"] == SYS["no_rujukan"] and number.startswith("0301R001")
    assert {"system": SYS["sep"], "value": "0301R0011126V000003"} in sr["identifier"]
    task = next(e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Task")
    assert task["status"] == "accepted" and task["focus"]["reference"] == data["entry"][0]["fullUrl"]
    assert task["for"]["reference"] == "urn:uuid:8f7c0a8e-0c1d-4c55-9d0e-3b5f4c2a1b02"  # the SIMRS's patient
    assert task["restriction"]["period"]["end"] == (TODAY + dt.timedelta(days=90)).isoformat()
    # BPJS now serves the referral; its lookup maps to a ServiceRequest with the same number
    lookup = FORMATS.get("bpjs.vclaim.rujukan").mapper.to_fhir(bpjs.rujukan_rs(number), MapContext(MappingRegistry()))
    mapped = lookup.model_dump(mode="json", exclude_none=True)["entry"][0]["resource"]
    assert mapped["identifier"] == [{"system": SYS["no_rujukan"], "value": number}]
    assert mapped["performerType"]["coding"][0]["code"] == "JAN"


def test_rujuk_balik_sends_empty_poli(bpjs):
    payload, updated, _ = _send(simrs_referral(poli_snomed=None, referral_type="back-referral"), bpjs)
    assert payload.data["request"]["t_rujukan"]["tipeRujukan"] == "2"
    assert payload.data["request"]["t_rujukan"]["poliRujukan"] == ""


def test_bpjs_refusal_surfaces_with_its_message(bpjs):
    with pytest.raises(BpjsRejected, match="No.SEP tidak ditemukan"):
        _send(simrs_referral(sep="0301R0011126V999999"), bpjs)


def test_unmappable_poli_stops_before_sending(bpjs):
    fmt = FORMATS.get("bpjs.vclaim.rujukan-insert")
    ctx = MapContext(mappings=MappingRegistry(), settings={"bpjs_user": "jembatan"})
    payload = fmt.mapper.from_fhir(simrs_referral(poli_snomed="1234567"), ctx)
    outcome = BpjsProfileValidator().validate(payload, ctx)
    assert ctx.outcome.message_ids() == ["GW-2201"]  # the SNOMED code has no BPJS poli
    assert outcome.message_ids() == ["GW-4212"]  # poliRujukan missing for a full referral: nothing is sent
