"""Resources whose R4 patient element is required get the message's patient, wherever the PID stands."""

from __future__ import annotations

from typing import Any

from adapters.base import MapContext
from adapters.hl7v2.codec import Hl7v2Codec
from adapters.hl7v2.mapper import Hl7v2Mapper
from mappings.registry import MappingRegistry

REGISTRY = MappingRegistry()
MSH = "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||{}|C1|P|2.5\r"


def convert(kind: str, body: str) -> tuple[dict[str, Any], MapContext]:
    ctx = MapContext(mappings=REGISTRY, settings={"timezone": "Asia/Jakarta"})
    raw = (MSH.format(kind) + body).encode()
    return dict(Hl7v2Mapper().to_fhir(Hl7v2Codec().parse(raw), ctx)), ctx


def of_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == rtype]


def test_an_order_before_the_pid_gets_the_patient() -> None:
    body = "ORC|NW|P1^SIMRS\rPID|1||RM1^^^RSUD^MR||SANTOSO^BUDI\rOBR|1|P1^SIMRS||GLU^Glucose^L\r"
    bundle, _ = convert("ORM^O01", body)
    patient = of_type(bundle, "Patient")[0]
    orders = of_type(bundle, "ServiceRequest")
    assert orders and all(o["subject"] == {"reference": f"Patient/{patient['id']}"} for o in orders)


def test_without_any_pid_a_patient_bound_resource_is_not_produced_and_said_so() -> None:
    bundle, ctx = convert("ADT^A01", "ORC|NW|P1^SIMRS\rAL1|1|DA|PENI^Penicillin^L\rPV1|1|O\r")
    assert of_type(bundle, "ServiceRequest") == [] and of_type(bundle, "AllergyIntolerance") == []
    warned = [i for i in ctx.outcome.issues if i.message_id == "GW-1347"]
    assert warned and all(i.severity == "warning" for i in warned)
