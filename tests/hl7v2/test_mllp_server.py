"""The MLLP listener against the real ingest (SQLite): ACK codes, order, duplicates, limits, TLS."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from adapters.hl7v2.codec import Hl7v2Codec, V2Message
from adapters.hl7v2.mllp import FrameReader, frame
from bridge.db import get_db
from bridge.mllp import MllpServerHandle, send_messages, start_mllp_server
from bridge.models import Transaction
from tests.helpers import make_app

CHANNEL = """
[[channel]]
name = "hl7v2-test"
source = "hl7v2"
target = "fhir+json"
destination = "none"
[channel.settings]
timezone = "Asia/Jakarta"
"""


def message(control: str, family: str = "SANTOSO", version: str = "2.5") -> bytes:
    return (
        f"MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|{control}|P|{version}\r"
        f"PID|1||RM{control}^^^RSUD^MR||{family}^BUDI||19800101|M\r"
        "PV1|1|O\r"
    ).encode()


@pytest.fixture()
def mllp_app(tmp_path: Path) -> Flask:
    channels = tmp_path / "channels"
    channels.mkdir()
    (channels / "hl7v2-test.toml").write_text(CHANNEL, encoding="utf-8")
    return make_app(tmp_path, CHANNEL_PATHS=[str(channels)], MLLP_CHANNEL="hl7v2-test")


@pytest.fixture()
def server(mllp_app: Flask) -> Iterator[MllpServerHandle]:
    handle = start_mllp_server(mllp_app, "127.0.0.1", 0, max_message_bytes=4096)
    yield handle
    handle.close()


def parse_ack(raw: bytes) -> V2Message:
    ack = Hl7v2Codec().parse(raw)
    assert isinstance(ack, V2Message)
    return ack


def stored(app: Flask) -> int:
    with app.app_context(), get_db(app).session() as sess:
        return int(sess.scalar(select(func.count()).select_from(Transaction)) or 0)


def test_acks_in_order_with_msa2_echo(server: MllpServerHandle, mllp_app: Flask) -> None:
    msgs = [message(f"C{i}") for i in range(5)]
    acks = [parse_ack(a) for a in send_messages("127.0.0.1", server.port, msgs)]
    assert [a.get("MSA-2") for a in acks] == [f"C{i}" for i in range(5)]
    assert {a.get("MSA-1") for a in acks} == {"AA"}
    assert stored(mllp_app) == 5


def test_duplicate_gets_the_stored_ack(server: MllpServerHandle, mllp_app: Flask) -> None:
    first, again = send_messages("127.0.0.1", server.port, [message("D1"), message("D1")])
    assert first == again
    assert stored(mllp_app) == 1
    with mllp_app.app_context(), get_db(mllp_app).session() as sess:
        assert sess.scalars(select(Transaction)).one().duplicate_count == 1


def test_same_control_id_different_content_is_rejected(server: MllpServerHandle) -> None:
    ok, clash = send_messages("127.0.0.1", server.port, [message("K1"), message("K1", family="LAIN")])
    assert parse_ack(ok).get("MSA-1") == "AA"
    ack = parse_ack(clash)
    assert ack.get("MSA-1") == "AR" and ack.get("MSA-2") == "K1" and ack.get("ERR-8").startswith("GW-6301")


def test_unsupported_version_is_ar_with_err(server: MllpServerHandle) -> None:
    (raw,) = send_messages("127.0.0.1", server.port, [message("V1", version="3.0")])
    ack = parse_ack(raw)
    assert ack.get("MSA-1") == "AR" and ack.get("MSA-2") == "V1"
    assert ack.get("ERR-3.1") == "203" and ack.get("ERR-2.1") == "MSH" and ack.get("ERR-2.3") == "12"


def test_mapping_error_is_ae(server: MllpServerHandle) -> None:
    bad_sex = message("S1").replace(b"|19800101|M", b"|19800101|Q")
    ack = parse_ack(send_messages("127.0.0.1", server.port, [bad_sex])[0])
    assert ack.get("MSA-1") == "AE" and ack.get("ERR-2.1") == "PID" and ack.get("ERR-2.3") == "8"


def test_oversized_message_closes_only_that_connection(server: MllpServerHandle) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"\x0b" + b"x" * 5000)
        assert sock.recv(100) == b""
    assert parse_ack(send_messages("127.0.0.1", server.port, [message("A1")])[0]).get("MSA-1") == "AA"


def test_slow_client_does_not_stall_others(server: MllpServerHandle) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
        slow.sendall(frame(message("SLOW"))[:20])  # half a message, then silence
        started = time.monotonic()
        assert parse_ack(send_messages("127.0.0.1", server.port, [message("F1")])[0]).get("MSA-1") == "AA"
        assert time.monotonic() - started < 2
        slow.sendall(frame(message("SLOW"))[20:])
        reader = FrameReader()
        got: list[bytes] = []
        while not got:
            got = reader.feed(slow.recv(4096))
        assert parse_ack(got[0]).get("MSA-2") == "SLOW"


def test_storage_failure_sends_no_ack(mllp_app: Flask) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("disk full")

    handle = start_mllp_server(mllp_app, "127.0.0.1", 0, ingest=broken)
    try:
        assert send_messages("127.0.0.1", handle.port, [message("X1")]) == []
    finally:
        handle.close()


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_tls(mllp_app: Flask, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed(tmp_path)
    mllp_app.config.update(MLLP_TLS_CERT=str(cert), MLLP_TLS_KEY=str(key))
    handle = start_mllp_server(mllp_app, "127.0.0.1", 0)
    try:
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as plain:  # a plaintext client
            plain.sendall(frame(message("P1")))
            try:
                assert plain.recv(100) == b""  # closed without an ACK
            except ConnectionResetError:
                pass
        client_ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", handle.port), timeout=5) as raw_sock:
            with client_ctx.wrap_socket(raw_sock, server_hostname="localhost") as sock:
                sock.sendall(frame(message("T1")))
                reader = FrameReader()
                got: list[bytes] = []
                while not got:
                    got = reader.feed(sock.recv(4096))
        ack = parse_ack(got[0])
        assert ack.get("MSA-1") == "AA" and ack.get("MSA-2") == "T1"
    finally:
        handle.close()


def test_http_ingest_and_mllp_share_idempotency(mllp_app: Flask, server: MllpServerHandle) -> None:
    from tests.helpers import new_key

    headers = {"Authorization": f"Bearer {new_key(mllp_app)}", "Content-Type": "x-application/hl7-v2+er7"}
    client = mllp_app.test_client()
    first = client.post("/channels/hl7v2-test/messages", data=message("H1"), headers=headers)
    first_body = first.get_json()
    assert first.status_code in (200, 202) and first_body["status"] in ("accepted", "queued")
    again_body = client.post("/channels/hl7v2-test/messages", data=message("H1"), headers=headers).get_json()
    assert again_body["duplicate"] is True and again_body["transactionId"] == first_body["transactionId"]
    (raw,) = send_messages("127.0.0.1", server.port, [message("H1")])  # same message over MLLP: a duplicate
    assert parse_ack(raw).get("MSA-2") == "H1"
    assert stored(mllp_app) == 1


def test_unsupported_message_type_is_ar(server: MllpServerHandle) -> None:
    query = b"MSH|^~\\&|RIS|R|GW|G|19940113085842||QRY^Q01|Q1|P|2.1\rQRD|19940113|R|I|Q1\r"
    ack = parse_ack(send_messages("127.0.0.1", server.port, [query])[0])
    assert ack.get("MSA-1") == "AR" and ack.get("MSA-2") == "Q1" and ack.get("ERR-1.4").startswith("200")


def test_tls_misconfiguration_is_a_config_error(mllp_app: Flask, tmp_path: Path) -> None:
    from bridge.errors import ConfigError

    mllp_app.config.update(MLLP_TLS_CERT=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError):
        start_mllp_server(mllp_app, "127.0.0.1", 0)


def test_worker_processes_give_the_same_acks(mllp_app: Flask) -> None:
    """MLLP_WORKERS: decode + pipeline in forked processes; ACK codes, ERR locations and replays unchanged."""
    mllp_app.config["MLLP_WORKERS"] = 1
    handle = start_mllp_server(mllp_app, "127.0.0.1", 0)
    try:
        assert handle._server.workers is not None
        bad_sex = message("W2").replace(b"|19800101|M", b"|19800101|Q")
        sent = [message("W1"), bad_sex, message("W1"), message("W3", version="3.0")]
        acks = [parse_ack(a) for a in send_messages("127.0.0.1", handle.port, sent)]
    finally:
        handle.close()
    assert [a.get("MSA-2") for a in acks] == ["W1", "W2", "W1", "W3"]
    assert [a.get("MSA-1") for a in acks] == ["AA", "AE", "AA", "AR"]
    assert acks[1].get("ERR-2.1") == "PID" and acks[1].get("ERR-2.3") == "8"
    assert acks[3].get("ERR-3.1") == "203"
    assert stored(mllp_app) == 3  # the retransmission of W1 was answered from the store


def test_concurrent_connections_share_commits_and_every_ack_is_stored(
    server: MllpServerHandle, mllp_app: Flask
) -> None:
    import threading

    results: dict[int, list[bytes]] = {}

    def run(n: int) -> None:
        results[n] = send_messages("127.0.0.1", server.port, [message(f"G{n}-{i}") for i in range(5)])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = [parse_ack(a).get("MSA-1") for acks in results.values() for a in acks]
    assert codes == ["AA"] * 30
    assert stored(mllp_app) == 30
    committer = server._server.committer
    assert committer is not None and committer.messages == 30 and committer.batches <= 30
