"""How ``jembatan demo`` prepares a run: destinations follow SIMULATOR_PORTS, MSH-10 gets a run stamp."""

from __future__ import annotations

from pathlib import Path

from bridge.config import DEFAULTS
from bridge.demo import point_destinations_at_simulators, stamp_control_id
from tests.helpers import make_app


def test_default_destinations_follow_the_simulator_ports(tmp_path: Path) -> None:
    real = {"type": "satusehat", "base_url": "https://api-satusehat.kemkes.go.id", "client_id": "c",
            "client_secret": "s", "organization_id": "1"}  # fmt: skip
    app = make_app(tmp_path, DESTINATIONS={**DEFAULTS["DESTINATIONS"], "production": real})
    moved = point_destinations_at_simulators(app, "0.0.0.0", {"satusehat": 9181, "bpjs": 9182, "dhis2": 9183})
    dests = app.config["DESTINATIONS"]
    assert sorted(moved) == ["bpjs", "satusehat"]
    assert dests["satusehat"]["base_url"] == "http://127.0.0.1:9181"
    assert dests["bpjs"]["base_urls"] == {"vclaim": "http://127.0.0.1:9182/vclaim-rest",
                                          "pcare": "http://127.0.0.1:9182/pcare-rest"}  # fmt: skip
    assert dests["production"] == real  # a real upstream is never redirected
    assert DEFAULTS["DESTINATIONS"]["satusehat"]["base_url"] == "http://127.0.0.1:8081"  # defaults untouched


def test_default_config_has_no_channel_problems(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    gateway = app.extensions["jembatan"]
    assert gateway.check() == []
    assert {"hl7v2-satusehat", "hl7v2-bpjs-rujukan", "hl7v2-demo", "fhir-intake"} <= set(gateway.runnable_channels())


def test_run_stamp_changes_only_msh_10() -> None:
    raw = b"MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20241120080500||ADT^A04^ADT_A01|DEMO-ADT-0001|P|2.5\rPID|1\r"
    stamped = stamp_control_id(raw, "123456")
    assert stamped == raw.replace(b"|DEMO-ADT-0001|", b"|DEMO-ADT-0001-123456|")
    long_id = raw.replace(b"DEMO-ADT-0001", b"X" * 20)
    assert len(stamp_control_id(long_id, "123456").split(b"|")[9]) == 20  # MSH-10 stays within 20 characters
    assert stamp_control_id(b"PID|1\r", "1") == b"PID|1\r"
