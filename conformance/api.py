"""``POST /conformance/<name>/$validate``: the checks vendors call before sending.

``<name>`` is a conformance profile (``satusehat``, ``bpjs``, ``dhis2`` …) or a format id. The answer is an
OperationOutcome: 200 when no issue is an error, 422 otherwise.
"""

from __future__ import annotations

from flask import Blueprint, Response

from bridge.api import outcome_response, read_body
from bridge.gateway import get_gateway
from conformance.check import check_payload

bp = Blueprint("conformance", __name__)


@bp.post("/conformance/<name>/$validate")
def validate(name: str) -> Response:
    gateway = get_gateway()
    fmt, _ = gateway.formats.checker(name)
    outcome = check_payload(gateway, name, read_body(fmt.media_type))
    return outcome_response(outcome, 200 if outcome.ok else 422)
