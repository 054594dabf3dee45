"""HL7 v2 over real MLLP → channel ``hl7v2-satusehat`` → outbox → the SATUSEHAT simulator (in-process).

The demo messages of ``bridge/demo_data/hl7v2-satusehat`` are sent to a listener on a free port; the
worker pass delivers them to the simulator through :class:`DroppingTransport`; the simulator must
then hold the patient, the visit and its diagnoses with the values of the messages.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from bridge.db import get_db
from bridge.mllp import send_messages
from bridge.models import Transaction
from tests.e2e.conftest import FILES, NIK, ORG, ack_code, deliver, held, outbox_states, posts

PATIENT_NIK = "3171034506900002"
VISIT = "VIS-20241120-0001"
ADMIN_CODE = "https://fhir.kemkes.go.id/r4/StructureDefinition/administrativeCode"


def test_demo_messages_cover_register_diagnosis_and_discharge() -> None:
    kinds = [f.read_bytes().split(b"\r")[0].split(b"|")[8].split(b"^")[1] for f in FILES]
    assert {b"A04", b"A03"} <= set(kinds)
    assert all(b"|3171034506900002^^^NIK^NI" in f.read_bytes().replace(b"~", b"|") for f in FILES)


def test_adt_over_mllp_reaches_satusehat_with_the_message_values(gateway: Flask, mllp: int, sim: Flask) -> None:
    acks = send_messages("127.0.0.1", mllp, [f.read_bytes() for f in FILES])
    assert [ack_code(a) for a in acks] == ["AA"] * len(FILES)
    deliver(gateway)
    assert outbox_states(gateway) == ["delivered"] * len(FILES)

    (patient,) = [p for p in held(sim, "Patient") if (NIK, PATIENT_NIK) in [(i["system"], i["value"]) for i in
                                                                           p["identifier"]]]  # fmt: skip
    assert patient["gender"] == "female" and patient["birthDate"] == "1990-06-05"
    assert patient["name"][0]["family"] == "LESTARI"
    ext = next(e for e in patient["address"][0]["extension"] if e["url"] == ADMIN_CODE)
    parts = {p["url"]: p["valueCode"] for p in ext["extension"]}
    assert parts == {"province": "31", "city": "3171", "district": "317103", "village": "3171031001",
                     "rt": "003", "rw": "005"}  # fmt: skip

    (encounter,) = held(sim, "Encounter")
    assert encounter["identifier"][0] == {"use": "official", "system": f"http://sys-ids.kemkes.go.id/encounter/{ORG}",
                                          "value": VISIT}  # fmt: skip
    assert encounter["subject"]["reference"] == f"Patient/{patient['id']}"
    assert encounter["status"] == "finished"
    assert [h["status"] for h in encounter["statusHistory"]] == ["arrived", "in-progress", "finished"]
    assert encounter["period"] == {"start": "2024-11-20T01:05:00+00:00", "end": "2024-11-20T03:00:00+00:00"}
    assert encounter["participant"][0]["individual"]["reference"] == "Practitioner/N10000001"  # found by NIK
    assert encounter["location"][0]["location"]["reference"] == "Location/b017aa54-f1df-4ec2-9d84-8823815d7228"
    assert encounter["serviceProvider"] == {"reference": f"Organization/{ORG}"}

    conditions = held(sim, "Condition")
    codes = sorted(c["code"]["coding"][0]["code"] for c in conditions)
    assert codes == ["I10", "J06.9"]
    assert all(c["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10" for c in (x["code"] for x in conditions))
    assert all(c["encounter"]["reference"] == f"Encounter/{encounter['id']}" for c in conditions)
    ranked = {d["rank"]: d["condition"]["reference"] for d in encounter["diagnosis"]}
    by_id = {f"Condition/{c['id']}": c["code"]["coding"][0]["code"] for c in conditions}
    assert [by_id[ranked[1]], by_id[ranked[2]]] == ["J06.9", "I10"]


def test_retransmission_is_acknowledged_again_but_delivered_once(gateway: Flask, mllp: int, sim: Flask) -> None:
    register = FILES[0].read_bytes()
    first = send_messages("127.0.0.1", mllp, [register])
    deliver(gateway)
    again = send_messages("127.0.0.1", mllp, [register, register])
    deliver(gateway)
    assert [ack_code(a) for a in first + again] == ["AA"] * 3
    assert again[0] == first[0]  # the stored ACK, replayed
    with get_db(gateway).session() as sess:
        assert sess.scalar(select(func.count()).select_from(Transaction)) == 1
        assert sess.scalar(select(Transaction.duplicate_count)) == 2
    assert outbox_states(gateway) == ["delivered"]
    assert posts(sim, "Encounter") == 1 and len(held(sim, "Encounter")) == 1
    assert posts(sim, "Patient") == 1


def test_same_visit_resent_with_new_control_id_updates_instead_of_duplicating(gateway: Flask, mllp: int,
                                                                              sim: Flask) -> None:  # fmt: skip
    register = FILES[0].read_bytes()
    resent = register.replace(b"|DEMO-ADT-0001|", b"|DEMO-ADT-0001R|")
    send_messages("127.0.0.1", mllp, [register, resent])
    deliver(gateway)
    assert outbox_states(gateway) == ["delivered", "delivered"]
    assert len(held(sim, "Encounter")) == 1 and posts(sim, "Encounter") == 1
    assert len(held(sim, "Patient")) == 2  # the seeded one and ours, created once


def test_message_satusehat_would_refuse_is_not_enqueued(gateway: Flask, mllp: int, sim: Flask) -> None:
    bad = FILES[0].read_bytes().replace(b"~3171034506900002^^^NIK^NI|", b"~31710345^^^NIK^NI|")
    assert bad != FILES[0].read_bytes()
    (ack,) = send_messages("127.0.0.1", mllp, [bad])
    assert ack_code(ack) == "AE"
    assert b"GW-41" in ack  # the SATUSEHAT pre-flight rule, in ERR-8
    assert outbox_states(gateway) == []
    assert posts(sim, "Patient") == 0
