"""ORU^R01 vital signs over MLLP → SATUSEHAT simulator (Observations with LOINC/UCUM, by NIK practitioner).

SATUSEHAT requires ``ServiceRequest.encounter`` (from PV1) and ``Observation.category`` (vital-signs
from the LOINC code) of a vitals ORU; the pre-flight must pass, so the demo can send it.
"""

from __future__ import annotations

from flask import Flask

from adapters.registry import default_registry
from bridge.channels import load_channel_files
from bridge.config import DEMO_CHANNELS
from bridge.demo import DEMO_DATA, DEMO_MLLP_CHANNEL
from bridge.mllp import send_messages
from bridge.pipeline import Pipeline
from mappings.registry import MappingRegistry
from tests.e2e.conftest import FILES, ack_code, deliver, held, outbox_states

NAME = "02-vitals-oru-r01.hl7"
ORU = DEMO_DATA / DEMO_MLLP_CHANNEL / NAME
VITALS = {"8480-6": (128, "mm[Hg]"), "8462-4": (84, "mm[Hg]"), "8867-4": (88, "/min"), "8310-5": (37.8, "Cel"),
          "9279-1": (20, "/min")}  # fmt: skip


def preflight_errors() -> list[str]:
    channel = load_channel_files([DEMO_CHANNELS])[DEMO_MLLP_CHANNEL]
    run = Pipeline(channel, default_registry(), MappingRegistry(), None, {}).run(ORU.read_bytes())
    return [f"{i.message} ({', '.join(i.expression)})" for i in run.outcome.errors]


def test_vitals_oru_passes_the_satusehat_preflight() -> None:
    assert preflight_errors() == []


def test_vitals_oru_reaches_satusehat_as_vital_sign_observations(gateway: Flask, mllp: int, sim: Flask) -> None:
    register = [f for f in FILES if "a04" in f.name]
    acks = send_messages("127.0.0.1", mllp, [f.read_bytes() for f in register] + [ORU.read_bytes()])
    assert [ack_code(a) for a in acks] == ["AA"] * len(acks)
    deliver(gateway)
    assert outbox_states(gateway) == ["delivered"] * len(acks)
    (encounter,) = held(sim, "Encounter")
    observations = held(sim, "Observation")
    got = {o["code"]["coding"][0]["code"]: (o["valueQuantity"]["value"], o["valueQuantity"]["code"])
           for o in observations}  # fmt: skip
    assert got == VITALS
    for obs in observations:
        assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
        assert obs["encounter"]["reference"] == f"Encounter/{encounter['id']}"
        assert obs["performer"] == [{"reference": "Practitioner/N10000001"}]
        assert obs["effectiveDateTime"] == "2024-11-20T01:25:00+00:00"
    (order,) = held(sim, "ServiceRequest")
    assert order["encounter"] == {"reference": f"Encounter/{encounter['id']}"}
    (report,) = held(sim, "DiagnosticReport")
    assert sorted(r["reference"] for r in report["result"]) == sorted(f"Observation/{o['id']}" for o in observations)
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{order['id']}"}]
