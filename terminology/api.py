"""FHIR REST surface of the terminology server under ``/fhir`` (JSON only).

CRUD and search for CodeSystem / ValueSet / ConceptMap, the terminology operations (GET and
POST forms, type and instance level), ``/fhir/metadata`` and ``?mode=terminology``. Every error is
an OperationOutcome with a 4xx status; unexpected failures are logged and answered as 500 outcomes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from bridge.errors import GatewayError
from terminology import capabilities
from terminology.errors import TxError, invalid, make_issue, not_found
from terminology.params import Params, out
from terminology.service import TerminologyService
from terminology.store import RESOURCE_TYPES, SEARCH_PARAMS, Store, check_resource, to_resource

log = logging.getLogger(__name__)
bp = Blueprint("terminology", __name__, url_prefix="/fhir")
FHIR_JSON = "application/fhir+json"
MAX_BODY = 20 * 1024 * 1024
EXT_KEY = "jembatan.terminology"


def service() -> TerminologyService:
    return current_app.extensions[EXT_KEY]  # type: ignore[no-any-return]


def fhir(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=FHIR_JSON, headers=headers)


@bp.errorhandler(Exception)
def _on_error(exc: Exception) -> Response:
    if isinstance(exc, TxError):
        return fhir(exc.to_operation_outcome(), exc.status)
    if isinstance(exc, GatewayError):
        issue = make_issue(
            "error",
            exc.issue_type,
            exc.message,
            message_id=exc.code,
            expression=[exc.location] if exc.location else None,
        )
        return fhir({"resourceType": "OperationOutcome", "issue": [issue]}, exc.status)
    if isinstance(exc, HTTPException):
        issue = make_issue(
            "error",
            "not-supported" if exc.code == 405 else "not-found" if exc.code == 404 else "invalid",
            exc.description or exc.name,
            message_id=f"GW-6{exc.code}",
        )
        return fhir({"resourceType": "OperationOutcome", "issue": [issue]}, exc.code or 400)
    log.exception("terminology request failed")
    issue = make_issue(
        "fatal", "exception", "internal error while processing the terminology request", message_id="GW-3999"
    )
    return fhir({"resourceType": "OperationOutcome", "issue": [issue]}, 500)


def _body() -> Any:
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        raise TxError("GW-3413", "request body too large", status=413, issue_code="too-costly")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise invalid("the request body is not valid JSON", message_id="GW-3006") from None


def _params() -> Params:
    if request.method == "GET":
        return Params.from_query(request.args.items(multi=True))
    params = Params.from_resource(_body())
    extra = [{"name": k, "valueString": v} for k, v in request.args.items(multi=True)]
    return Params([*params.entries, *extra])


def _with_language(params: Params) -> Params:
    header = request.headers.get("Accept-Language")
    if header and not params.has("displayLanguage"):
        return Params([*params.entries, {"name": "displayLanguage", "valueCode": header.split(",")[0].strip()}])
    return params


def _instance(params: Params, resource_type: str, fhir_id: str, name: str) -> Params:
    with service().session_factory() as session:
        row = Store(session).get(resource_type, fhir_id)
        if row is None:
            raise not_found(f"{resource_type}/{fhir_id} is not known")
        resource = to_resource(row)
    if resource_type == "ConceptMap":
        return Params([*params.entries, {"name": "conceptMap", "resource": resource}])
    key = "valueSet" if resource_type == "ValueSet" else "tx-resource"
    extra = [{"name": key, "resource": resource}]
    if resource_type == "CodeSystem" and resource.get("url"):
        extra += [{"name": name, "valueUri": resource["url"]}]
        if resource.get("version"):
            extra += [{"name": "version", "valueString": resource["version"]}]
    return Params([*params.entries, *extra])


OPERATIONS: dict[tuple[str, str], Callable[[TerminologyService, Params], dict[str, Any]]] = {
    ("CodeSystem", "lookup"): lambda s, p: s.lookup(p),
    ("CodeSystem", "validate-code"): lambda s, p: s.validate_code_cs(p),
    ("CodeSystem", "subsumes"): lambda s, p: s.subsumes(p),
    ("ValueSet", "expand"): lambda s, p: s.expand(p),
    ("ValueSet", "validate-code"): lambda s, p: s.validate_code_vs(p),
    ("ValueSet", "batch-validate-code"): lambda s, p: batch_validate(s, p),
    ("ConceptMap", "translate"): lambda s, p: s.translate(p),
}


def batch_validate(svc: TerminologyService, params: Params) -> dict[str, Any]:
    shared = [e for e in params.entries if e.get("name") != "validation"]
    results = []
    for item in params.resources("validation"):
        inner = Params.from_resource(item)
        try:
            answer = svc.validate_code_vs(Params([*inner.entries, *shared]))
        except TxError as exc:
            answer = exc.to_operation_outcome()
        results.append({"name": "validation", "resource": answer})
    return out(results)


def _run_operation(resource_type: str, name: str, fhir_id: str | None = None) -> Response:
    op = OPERATIONS.get((resource_type, name))
    if op is None:
        raise TxError(
            "GW-3007", f"operation ${name} is not supported on {resource_type}", status=400, issue_code="not-supported"
        )
    params = _with_language(_params())
    threshold = request.headers.get("X-TOO-COSTLY-THRESHOLD", "")
    if threshold.isdigit():  # a client may only lower the limit
        params = Params([*params.entries, {"name": "_limit", "valueInteger": int(threshold)}])
    if fhir_id is not None:
        params = _instance(params, resource_type, fhir_id, "url" if name == "validate-code" else "system")
    return fhir(op(service(), params))


@bp.route("/<rtype>/$<op>", methods=["GET", "POST"])
def type_operation(rtype: str, op: str) -> Response:
    return _run_operation(_type(rtype), op)


@bp.route("/<rtype>/<fhir_id>/$<op>", methods=["GET", "POST"])
def instance_operation(rtype: str, fhir_id: str, op: str) -> Response:
    return _run_operation(_type(rtype), op, fhir_id)


def _type(rtype: str) -> str:
    if rtype not in RESOURCE_TYPES:
        raise not_found(f"resource type '{rtype}' is not served here (CodeSystem, ValueSet, ConceptMap)")
    return rtype


@bp.get("/metadata")
def metadata() -> Response:
    if request.args.get("mode") == "terminology":
        return fhir(capabilities.terminology_capabilities())
    return fhir(capabilities.capability_statement(request.url_root.rstrip("/") + "/fhir"))


@bp.route("/$versions", methods=["GET", "POST"])
def versions() -> Response:
    return fhir(out([{"name": "version", "valueString": "4.0"}, {"name": "default", "valueString": "4.0"}]))


# -- CRUD and search -------------------------------------------------------------------------------
@bp.get("/<rtype>")
def search(rtype: str) -> Response:
    rtype = _type(rtype)
    criteria = {k: v for k, v in request.args.items() if k in SEARCH_PARAMS}
    unknown = [k for k in request.args if k not in SEARCH_PARAMS and k not in ("_count", "_offset", "_format")]
    if unknown:
        raise invalid(f"unsupported search parameter(s): {', '.join(sorted(unknown))}", message_id="GW-3008")
    count = _bounded_int("_count", 50, 500)
    offset = _bounded_int("_offset", 0, 10**9)
    with service().session_factory() as session:
        total, rows = Store(session).search(rtype, criteria, count, offset)
        entries = [
            {
                "fullUrl": f"{request.url_root}fhir/{rtype}/{r.fhir_id}",
                "resource": to_resource(r),
                "search": {"mode": "match"},
            }
            for r in rows
        ]
    return fhir({"resourceType": "Bundle", "type": "searchset", "total": total, "entry": entries})


def _bounded_int(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise invalid(f"{name} must be a non-negative integer")
    return min(int(raw), maximum)


@bp.post("/<rtype>")
def create(rtype: str) -> Response:
    rtype = _type(rtype)
    resource = check_resource(_body(), rtype)
    with service().session_factory() as session:
        row, changed = Store(session).save(resource)
        body = to_resource(row)
    service().backend.invalidate()
    return fhir(body, 201 if changed else 200, {"Location": f"/fhir/{rtype}/{row.fhir_id}"})


@bp.get("/<rtype>/<fhir_id>")
def read(rtype: str, fhir_id: str) -> Response:
    rtype = _type(rtype)
    with service().session_factory() as session:
        row = Store(session).get(rtype, fhir_id)
        if row is None:
            raise not_found(f"{rtype}/{fhir_id} is not known")
        return fhir(to_resource(row))


@bp.put("/<rtype>/<fhir_id>")
def update(rtype: str, fhir_id: str) -> Response:
    rtype = _type(rtype)
    resource = check_resource(_body(), rtype)
    if resource.get("id") not in (None, fhir_id):
        raise invalid("the resource id must match the URL id")
    resource = {**resource, "id": fhir_id}
    with service().session_factory() as session:
        store = Store(session)
        existed = store.get(rtype, fhir_id) is not None
        row, _ = store.save(resource, fhir_id)
        body = to_resource(row)
    service().backend.invalidate()
    return fhir(body, 200 if existed else 201)


@bp.delete("/<rtype>/<fhir_id>")
def remove(rtype: str, fhir_id: str) -> Response:
    rtype = _type(rtype)
    with service().session_factory() as session:
        Store(session).delete(rtype, fhir_id)
    service().backend.invalidate()
    return Response(status=204)
