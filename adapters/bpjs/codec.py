"""JSON codecs for BPJS payloads: bytes ↔ :class:`~adapters.bpjs.models.BpjsPayload`.

``parse`` accepts the payload itself or a whole plain (unencrypted) envelope
``{"metaData": …, "response": {…}}`` and unwraps it; an envelope whose code is not 200 is a
DecodeError (GW-1421) carrying BPJS's message. HTML is refused (GW-1401). Values are
normalised (numbers → strings, trimmed codes). ``serialize`` writes compact UTF-8 JSON.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.bpjs.envelope import MAX_BODY, html_summary, is_html, load_json_body, parse_envelope
from adapters.bpjs.models import BpjsPayload, detect_kind, normalise
from bridge.errors import DecodeError

__all__ = ["BpjsJsonCodec"]

MEDIA_TYPE = "application/json"


def _unwrap(body: bytes, doc: Any) -> Any:
    if isinstance(doc, dict) and any(k.lower() == "metadata" for k in doc):
        env = parse_envelope(body)
        if not env.ok:
            raise DecodeError("GW-1421", f"BPJS answered code {env.code}: {env.message or '(no message)'}")
        if isinstance(env.response, str):
            raise DecodeError(
                "GW-1422", "the envelope's response is still encrypted; decrypt it first", location="response"
            )
        return env.response
    return doc


class BpjsJsonCodec:
    """One codec per format id; ``kind=None`` detects the kind from the keys (format ``bpjs.json``)."""

    media_type = MEDIA_TYPE

    def __init__(self, format_id: str, kind: str | None, max_bytes: int = MAX_BODY) -> None:
        self.format_id = format_id
        self.kind = kind
        self.max_bytes = max_bytes

    def parse(self, data: bytes) -> BpjsPayload:
        if is_html(data):
            raise DecodeError("GW-1401", f"an HTML page is not a BPJS payload: {html_summary(data)}")
        doc = normalise(_unwrap(data, load_json_body(data, max_bytes=self.max_bytes)))
        kind = self.kind or detect_kind(doc)
        if kind is None:
            raise DecodeError("GW-1423", "cannot tell which BPJS payload this is (no known keys)")
        if not isinstance(doc, dict):
            raise DecodeError("GW-1403", f"a {kind} payload must be a JSON object")
        return BpjsPayload(kind, doc)

    def serialize(self, model: BpjsPayload | dict[str, Any]) -> bytes:
        data = model.data if isinstance(model, BpjsPayload) else model
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
