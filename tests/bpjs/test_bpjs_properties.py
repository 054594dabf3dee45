import json

from hypothesis import given

from adapters.base import MapContext
from adapters.bpjs import register
from adapters.bpjs.schemas import schema_issues
from adapters.fhir.codec import FhirJsonCodec
from adapters.registry import FormatRegistry
from mappings.registry import MappingRegistry
from tests.bpjs.strategies import (
    pcare_kunjungan,
    pcare_rujukan,
    rujukan_fktp,
    rujukan_insert,
    rujukan_rs,
    simrs_service_requests,
)

MAPS = MappingRegistry()
REGISTRY = FormatRegistry()
register(REGISTRY)
FHIR = FhirJsonCodec()


def _through_fhir(format_id, doc):
    fmt = REGISTRY.get(format_id)
    ctx = MapContext(mappings=MAPS)
    model = fmt.codec.parse(json.dumps(doc).encode())
    wire = FHIR.serialize(fmt.mapper.to_fhir(model, ctx))  # what a channel would send on
    back = fmt.mapper.from_fhir(FHIR.parse(wire), ctx)
    again = FHIR.serialize(fmt.mapper.to_fhir(back, ctx))
    return back.data, wire, again


def _check(format_id, kind, doc):
    assert schema_issues(kind, doc).issues == []
    back, wire, again = _through_fhir(format_id, doc)
    assert back == doc
    assert again == wire


@given(rujukan_fktp)
def test_fktp_rujukan_round_trips_exactly(doc):
    _check("bpjs.vclaim.rujukan", "vclaim-rujukan", doc)


@given(rujukan_rs)
def test_rs_rujukan_round_trips_exactly(doc):
    _check("bpjs.vclaim.rujukan", "vclaim-rujukan", doc)


@given(rujukan_insert())
def test_rujukan_insert_round_trips_exactly(doc):
    _check("bpjs.vclaim.rujukan-insert", "vclaim-rujukan-insert", doc)


@given(pcare_kunjungan())
def test_pcare_kunjungan_round_trips_exactly(doc):
    _check("bpjs.pcare.kunjungan", "pcare-kunjungan", doc)


@given(simrs_service_requests())
def test_fhir_to_insert_to_fhir_is_stable(bundle):
    fmt = REGISTRY.get("bpjs.vclaim.rujukan-insert")
    ctx = MapContext(mappings=MAPS, settings={"bpjs_user": "jembatan"})
    first = fmt.mapper.from_fhir(FHIR.parse(json.dumps(bundle).encode()), ctx)
    assert ctx.outcome.ok and schema_issues("vclaim-rujukan-insert", first.data).issues == []
    fhir_1 = FHIR.serialize(fmt.mapper.to_fhir(first, ctx))
    second = fmt.mapper.from_fhir(FHIR.parse(fhir_1), ctx)
    assert second.data == first.data
    assert FHIR.serialize(fmt.mapper.to_fhir(second, ctx)) == fhir_1


@given(pcare_rujukan())
def test_pcare_rujukan_round_trips_exactly(doc):
    _check("bpjs.pcare.rujukan", "pcare-rujukan", doc)
