import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

PATIENT = '{"resourceType":"Patient","gender":"male"}'


def test_formats_lists_fhir_json(runner):
    result = runner.invoke(args=["formats"])
    assert result.exit_code == 0
    assert "fhir+json" in result.output


def test_validate_exit_codes(runner, tmp_path: Path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(PATIENT)
    bad.write_text('{"resourceType":"Patient","gender":3}')
    ok = runner.invoke(args=["validate", "--format", "fhir+json", str(good)])
    assert ok.exit_code == 0
    assert json.loads(ok.output)["resourceType"] == "OperationOutcome"
    failed = runner.invoke(args=["validate", "--format", "fhir+json", str(bad)])
    assert failed.exit_code == 1
    assert "Patient.gender" in failed.output
    assert runner.invoke(args=["validate", "--format", "nope", str(good)]).exit_code == 2
    assert runner.invoke(args=["validate", "--format", "fhir+json", str(tmp_path / "missing")]).exit_code == 2


def test_validate_reads_stdin(runner):
    assert runner.invoke(args=["validate", "--format", "fhir+json", "-"], input=PATIENT).exit_code == 0


def test_convert_prints_the_converted_payload(runner):
    result = runner.invoke(args=["convert", "--from", "fhir+json", "--to", "fhir+json", "-"], input=PATIENT)
    assert result.exit_code == 0
    assert json.loads(result.output) == json.loads(PATIENT)


def test_convert_failure_and_usage_errors(runner):
    bad = runner.invoke(args=["convert", "--from", "fhir+json", "--to", "fhir+json", "-"], input="{")
    assert bad.exit_code == 1
    assert "malformed JSON" in bad.output
    assert runner.invoke(args=["convert", "--from", "nope", "--to", "fhir+json", "-"], input="{}").exit_code == 2


def test_channels_command_lists_demo_channels(runner):
    result = runner.invoke(args=["channels"])
    assert "fhir-intake" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_migrates_and_answers_health(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "JEMBATAN_DATA_DIR": str(tmp_path), "JEMBATAN_LOAD_BUNDLED_TERMINOLOGY": "false"}
    cmd = [sys.executable, "-m", "bridge.cli", "serve", "--http-port", str(port), "--mllp-port", "0"]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail("gateway did not start: " + (tmp_path / "serve.log").read_text()[-2000:])
        assert resp.json()["database"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/formats").status_code == 401
        assert (tmp_path / "jembatan.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
