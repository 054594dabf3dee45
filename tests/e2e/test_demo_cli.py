"""``jembatan demo --once`` and ``jembatan demo`` as a user runs them (subprocesses, free ports, bounded)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bridge.demo import DEMO_DATA, DEMO_MLLP_CHANNEL
from bridge.mllp import send_messages

HL7_FILES = sorted((DEMO_DATA / DEMO_MLLP_CHANNEL).glob("*.hl7"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_env(tmp_path: Path) -> dict[str, str]:
    ports = {name: free_port() for name in ("satusehat", "bpjs", "dhis2")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEMBATAN_")}
    return {**env, "JEMBATAN_DATA_DIR": str(tmp_path), "JEMBATAN_SIMULATOR_PORTS": json.dumps(ports)}


def run_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bridge.cli", "demo", "--once"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_demo_once_delivers_every_demo_message_and_exits_0(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    result = run_once(env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = [line.split() for line in result.stdout.splitlines() if DEMO_MLLP_CHANNEL in line]
    assert [line[1] for line in lines] == [f.name for f in HL7_FILES]
    assert all(line[2:] == ["MLLP", "AA", "delivered", "delivered"] for line in lines), result.stdout
    held = re.search(r"SATUSEHAT simulator holds: (.*)", result.stdout)
    assert held and {"Condition 2", "Encounter 1", "Patient 2"} <= set(held.group(1).split(", ")), result.stdout
    (rujukan,) = [line.split() for line in result.stdout.splitlines() if line.startswith("  hl7v2-bpjs-rujukan")]
    assert rujukan[2:] == ["HTTP", "202", "delivered", "delivered"]
    assert "BPJS simulator holds: rujukan 0301R001" in result.stdout
    total = re.search(r"(\d+) of (\d+) demo messages accepted and delivered", result.stdout)
    assert total and total.group(1) == total.group(2) and int(total.group(2)) >= len(HL7_FILES) + 2
    again = run_once(env)  # same data directory, fresh simulators: a second run works as well
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]


@pytest.mark.slow
def test_demo_once_exits_1_when_delivery_fails(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    env["JEMBATAN_DESTINATIONS__satusehat__client_secret"] = "wrong-secret"  # the simulator refuses the token
    result = run_once(env)
    assert result.returncode == 1, result.stdout
    lines = [line.split() for line in result.stdout.splitlines() if DEMO_MLLP_CHANNEL in line]
    assert len(lines) == len(HL7_FILES) and all(line[3:6] == ["AA", "dead", "dead"] for line in lines), result.stdout
    assert "GW-5242" in result.stdout or "client_secret" in result.stdout  # why, on the line of the message
    total = re.search(r"(\d+) of (\d+) demo messages accepted and delivered", result.stdout)
    assert total and int(total.group(2)) - int(total.group(1)) == len(HL7_FILES)


@pytest.mark.slow
def test_demo_serves_until_interrupted(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    http_port, mllp_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "bridge.cli", "demo", "--http-port", str(http_port), "--mllp-port", str(mllp_port)]
    out = (tmp_path / "demo.log").open("w+")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        key = wait_for_key(tmp_path / "demo.log", http_port)
        acks = send_messages("127.0.0.1", mllp_port, [HL7_FILES[0].read_bytes()])
        assert b"MSA|AA|" in acks[0]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "x-application/hl7-v2+er7"}
        base = f"http://127.0.0.1:{http_port}"
        posted = httpx.post(f"{base}/channels/{DEMO_MLLP_CHANNEL}/messages", content=HL7_FILES[1].read_bytes(),
                            headers=headers, timeout=10)  # fmt: skip
        assert posted.status_code == 202, posted.text
        tx_url = f"{base}/transactions/{posted.json()['transactionId']}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = httpx.get(tx_url, headers=headers, timeout=5).json()["status"]
            if status in ("delivered", "dead"):
                break
            time.sleep(0.3)
        assert status == "delivered"
        assert proc.poll() is None  # still serving
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        out.close()
    assert proc.returncode == 0, (tmp_path / "demo.log").read_text()[-3000:]


def wait_for_key(log: Path, http_port: int) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"demo API key\s+(\S+)", log.read_text())
        if match:
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=1)
                return match.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.3)
    pytest.fail("demo did not start: " + log.read_text()[-3000:])
