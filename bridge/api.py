"""The gateway's HTTP API: channel ingest, transactions, conformance, health, formats, OpenAPI.

Every error answers a FHIR OperationOutcome (JSON) with the right status — never HTML, never a
traceback (see :func:`register_error_handlers`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from bridge import __version__
from bridge.auth import require_channel
from bridge.db import session
from bridge.errors import GatewayError, MalformedRequest, NotFound, UnsupportedMediaType
from bridge.gateway import get_gateway
from bridge.ingest import ingest, transaction_view
from bridge.models import Transaction
from bridge.openapi import openapi_document
from conformance.outcome import Issue, Outcome, outcome_from_error

bp = Blueprint("gateway", __name__)
log = logging.getLogger("jembatan.api")

MEDIA_ALIASES = {
    "json": ("application/json",),
    "xml": ("application/xml", "text/xml"),
    "csv": ("text/csv", "application/csv"),
    "er7": ("text/plain", "application/hl7-v2", "x-application/hl7-v2+er7"),
}


def accepted_media_types(media_type: str) -> set[str]:
    types = {media_type, "application/octet-stream"}
    for suffix, aliases in MEDIA_ALIASES.items():
        if media_type.endswith(suffix):
            types.update(aliases)
    return types


def read_body(media_type: str) -> bytes:
    if request.mimetype and request.mimetype not in accepted_media_types(media_type):
        raise UnsupportedMediaType(message=f"content type {request.mimetype!r} not accepted here; send {media_type}")
    body = request.get_data(cache=False)
    if not body:
        raise MalformedRequest("GW-6204", "empty request body")
    return body


def outcome_response(outcome: Outcome, status: int) -> Response:
    resp = jsonify(outcome.to_operation_outcome())
    resp.status_code = status
    resp.mimetype = "application/fhir+json"
    return resp


@bp.get("/health")
def health() -> Response:
    try:
        session().execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - health must answer, not fail
        database = "unavailable"
    status = 200 if database == "ok" else 503
    resp = jsonify({"status": "ok" if status == 200 else "degraded", "database": database, "version": __version__})
    resp.status_code = status
    return resp


@bp.post("/channels/<name>/messages")
def post_message(name: str) -> Response:
    require_channel(name)
    pipeline = get_gateway().pipeline(name)  # 404 unknown channel, 500 GW-7207 misconfigured channel
    body = read_body(pipeline.source.media_type)
    responder = _responder(pipeline.source.format_id, body)
    result = ingest(name, body, idempotency_key=request.headers.get("Idempotency-Key"), make_response=responder)
    status = {"accepted": 200, "queued": 202, "rejected": 422, "conflict": 409}.get(result.status, 200)
    if result.response and request.accept_mimetypes.best in HL7_ACK_TYPES:
        return Response(result.response, status=status, mimetype=request.accept_mimetypes.best)
    resp = jsonify(
        {
            "transactionId": result.transaction_id,
            "status": result.status,
            "duplicate": result.duplicate,
            "outcome": result.outcome.to_operation_outcome(),
        }
    )
    resp.status_code = status
    resp.headers["Location"] = f"/transactions/{result.transaction_id}"
    return resp


HL7_ACK_TYPES = ("x-application/hl7-v2+er7", "application/hl7-v2")


def _responder(format_id: str, body: bytes) -> Any:
    """HL7 v2 senders get the same ACK over HTTP as over MLLP (stored, replayed for retransmissions)."""
    if format_id != "hl7v2":
        return None
    from bridge.mllp import ack_for

    timezone = str((current_app.config.get("FACILITY") or {}).get("timezone") or "Asia/Jakarta")
    return lambda run, tx_id, status: ack_for(body, run, status, timezone)


@bp.get("/transactions/<tx_id>")
def get_transaction(tx_id: str) -> Response:
    tx = session().get(Transaction, tx_id)
    if tx is None:
        raise NotFound("GW-6406", f"no transaction {tx_id!r}")
    require_channel(tx.channel)
    return jsonify(transaction_view(tx, include_payload=request.args.get("include") == "payload"))


@bp.get("/formats")
def formats() -> Response:
    gateway = get_gateway()
    listing: list[dict[str, Any]] = [
        {"id": f.format_id, "mediaType": f.media_type, "description": f.description, "toFhir": f.mapper is not None}
        for f in gateway.formats
    ]
    profiles = [
        {"id": name, "input": input_format, "description": desc}
        for name, (input_format, _, desc) in sorted(gateway.formats.profiles().items())
    ]
    return jsonify({"formats": listing, "profiles": profiles, "channels": gateway.channels.names()})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(__version__))


def _gateway_error(exc: GatewayError) -> Response:
    if exc.status >= 500:
        log.error("gateway error %s: %s", exc.code, exc.message)
    return outcome_response(outcome_from_error(exc), exc.status)


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    issue_type = {404: "not-found", 405: "not-supported", 413: "too-costly", 415: "not-supported"}.get(code, "invalid")
    message = exc.description or exc.name
    if code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"request body larger than the limit of {limit} bytes"
    return outcome_response(Outcome.of(Issue.error(issue_type, message, message_id=f"GW-6{code}")), code)


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error (%s)", type(exc).__name__)
    issue = Issue.fatal("exception", "internal error; the event was logged", message_id="GW-0001")
    return outcome_response(Outcome.of(issue), 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(GatewayError, _gateway_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_error_handlers(app)
