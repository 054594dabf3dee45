from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.hl7v2.codec import Hl7v2Codec, V2Batch, V2Message, idempotency_key, iter_messages
from bridge.errors import DecodeError
from tests.hl7v2.conftest import SAMPLES, corpus_files

CODEC = Hl7v2Codec()
BASE = (
    "MSH|^~\\&|SIMRS|RSUD|GW|KEMKES|20240101083000||ADT^A04^ADT_A01|C123|P|2.5\r"
    "PID|1||RM001^^^RSUD^MR||BUDI^SANTOSO||19800101|M\r"
)

# the two messages without MSH-10 in hapi's example_oml_o21.hl7 are rejected on purpose
EXPECTED_REJECTS = {("example_oml_o21.hl7", 11): "GW-1307", ("example_oml_o21.hl7", 12): "GW-1307"}


def corpus_messages() -> list[tuple[str, int, bytes]]:
    out = []
    for path in corpus_files():
        for index, raw in enumerate(iter_messages(path.read_bytes()), start=1):
            out.append((path.name, index, raw))
    return out


def test_corpus_every_message_parses_or_is_rejected_precisely(samples_dir: Path) -> None:
    parsed, rejected = 0, {}
    for name, index, raw in corpus_messages():
        try:
            msg = CODEC.parse(raw)
        except DecodeError as exc:
            assert exc.code.startswith("GW-13") and exc.location, exc
            rejected[(name, index)] = exc.code
            continue
        assert isinstance(msg, V2Message) and msg.control_id and msg.message_type[0]
        parsed += 1
    assert rejected == EXPECTED_REJECTS
    assert parsed == 64


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpus_whole_files(path: Path) -> None:
    try:
        doc = CODEC.parse(path.read_bytes())
    except DecodeError as exc:
        assert path.name == "example_oml_o21.hl7" and exc.code == "GW-1307" and "message 11" in exc.message
        return
    assert isinstance(doc, V2Message | V2Batch)


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_segment_endings_and_bom(ending: str) -> None:
    raw = ("\ufeff" + BASE.replace("\r", ending)).encode("utf-8")
    msg = CODEC.parse(raw)
    assert isinstance(msg, V2Message)
    assert msg.get("PID-5.2") == "SANTOSO"
    assert CODEC.serialize(msg) == BASE.encode()


def test_mllp_framing_left_on_is_tolerated() -> None:
    assert CODEC.serialize(CODEC.parse(b"\x0b" + BASE.encode() + b"\x1c\r")) == BASE.encode()


def test_batch_and_file() -> None:
    raw = (SAMPLES / "python-hl7" / "sample_file.hl7").read_bytes()
    doc = CODEC.parse(raw)
    assert isinstance(doc, V2Batch) and len(doc.headers) == 2 and len(doc.messages) == 1
    assert CODEC.serialize(doc) == raw.replace(b"\n", b"\r").rstrip(b"\r") + b"\r"
    assert idempotency_key(doc) == "|ABCHS|abchs20070101123401-1"


def test_duplicated_escape_char_is_repaired_with_warning() -> None:
    msg = CODEC.parse((SAMPLES / "linuxforhealth" / "sample_unix.hl7").read_bytes())
    assert isinstance(msg, V2Message)
    assert any("repeated" in w for w in msg.warnings)
    assert msg.get("PID-5.1") == "DOE"


def test_odd_encoding_chars_v21() -> None:
    raw = b"MSH|^~\\}|ADT|X|RAD|Y|19930502||BAR^P01|589|P|2.1\rPID|||123}A||DOE^JOHN\r"
    msg = CODEC.parse(raw)
    assert isinstance(msg, V2Message) and msg.get("PID-3.1.2") == "A"


def test_latin1_by_msh18() -> None:
    raw = BASE.replace("|2.5\r", "|2.5||||||8859/1\r").replace("BUDI", "BÜDI").encode("latin-1")
    msg = CODEC.parse(raw)
    assert isinstance(msg, V2Message) and msg.get("PID-5.2") == "SANTOSO" and msg.get("PID-5.1") == "BÜDI"


@pytest.mark.parametrize(
    ("raw", "code", "location"),
    [
        (b"", "GW-1303", None),
        (b"PID|1||x\r", "GW-1304", "line 1"),
        (b"MSH|^~\\&|A|B|C|D|2020||ADT^A01||P|2.5\r", "GW-1307", "MSH-10"),
        (b"MSH|^~\\&|A|B|C|D|2020|||1|P|2.5\r", "GW-1307", "MSH-9"),
        (b"MSH|^~\\&|A|B|C|D|2020||ADT^A01|1|P|3.0\r", "GW-1308", "MSH-12"),
        (b"MSH|^~\\&|A|B|C|D|2020||ADT^A01|1|P|2.5\rthis is prose\r", "GW-1306", "line 2"),
        (b"MSHA^~\\&|A\r", "GW-1305", "MSH-1"),
        (b"MSH|^~\\&|A|B|C|D|2020||ADT^A01|1|P|2.5\r\xff\xfe", "GW-1302", None),
        (b"BHS|^~\\&|A\rBTS|0\r", "GW-1309", "BHS"),
    ],
)
def test_rejections_are_precise(raw: bytes, code: str, location: str | None) -> None:
    with pytest.raises(DecodeError) as info:
        CODEC.parse(raw)
    assert info.value.code == code
    assert info.value.location == location


def test_size_limit() -> None:
    with pytest.raises(DecodeError) as info:
        Hl7v2Codec(max_bytes=100).parse(BASE.encode() * 2)
    assert info.value.code == "GW-1301"


def test_idempotency_key() -> None:
    msg = CODEC.parse(BASE.encode())
    assert idempotency_key(msg) == "SIMRS|RSUD|C123"


SEG = st.text(alphabet=st.sampled_from("ABCXYZ019 -_.^~&|"), max_size=30)


@given(st.lists(st.tuples(st.sampled_from(["PID", "PV1", "OBX", "ZPI", "NTE"]), SEG), max_size=6))
def test_parse_serialize_identity_on_canonical(segments: list[tuple[str, str]]) -> None:
    body = "".join(f"{sid}|{text.strip()}\r" for sid, text in segments)
    raw = (BASE + body).encode()
    assert CODEC.serialize(CODEC.parse(raw)) == raw.replace(b"|\r", b"|\r")


@given(st.binary(max_size=300))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    try:
        CODEC.parse(data)
    except DecodeError:
        pass


@given(st.text(max_size=200))
def test_garbage_after_header_raises_only_decode_error(text: str) -> None:
    try:
        CODEC.parse(("MSH|" + text).encode("utf-8", "surrogatepass"))
    except DecodeError:
        pass
