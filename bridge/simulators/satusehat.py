"""A strict in-process SATUSEHAT simulator (Flask), built from the documented behaviour.

Endpoints (paths as on the real hosts):

* ``POST /oauth2/v1/accesstoken?grant_type=client_credentials`` with a form body ``client_id`` /
  ``client_secret``; answers the Apigee-style token JSON (all values strings, ``expires_in`` from
  config ``TOKEN_TTL``). Bad credentials give the documented ``severity: invalid`` OperationOutcome.
* ``/fhir-r4/v1/<Type>``: ``POST`` (create), ``GET /<Type>/<id>`` (read), ``PUT /<Type>/<id>`` (update;
  the body must carry the same ``id``: "id is required"), ``PATCH /<Type>/<id>`` (JSON Patch),
  ``GET /<Type>?identifier=|nik=|subject=|encounter=|based-on=|name=|birthdate=|gender=`` (searchset
  Bundle with ``total``; other parameters are refused) and ``POST /fhir-r4/v1`` (transaction
  Bundle, all or nothing).
* ``POST /Patient`` answers the non-FHIR ``{success, data:{patient_id}}`` (NIK) or
  ``{create_patient:{success, data:{patient_id}}}`` (NIK ibu) reply.

Every create/update runs the same rules as the offline pre-flight (:mod:`adapters.satusehat.rules`)
with the token's organization, so RuleNumber 10117 and the other business rules answer a 400
OperationOutcome in SATUSEHAT's shape (``issue[].severity/code/details.text/expression``). A second
create with a business identifier that already exists is refused with code ``duplicate``; references
to Patients, Practitioners, Encounters … that do not exist are refused; an Encounter update may only
extend its status history. An invalid or expired token gives ``invalid-access-token``.

Fault injection (config ``FAULTS`` or ``POST /__sim__/faults``): ``latency_ms`` for every request
and a ``script`` consumed one item per FHIR request: ``429``, ``500`` (plain-text ``Gateway Timeout``
as the real gateway sends), ``"drop"`` (the request is processed, then the reply is lost: the
response carries ``X-Simulator-Fault: drop``, which :class:`DroppingTransport` turns into a
connection error for in-process clients) and ``"expire"`` (the presented token is revoked).
``GET /__sim__/log`` lists the requests received, for tests.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from flask import Flask, Response, jsonify, request

from adapters.satusehat.rules import NATIONAL_IDS, RuleContext, check_payload

DEFAULT_ORG = "100025753"
DEFAULTS: dict[str, Any] = {
    "ORGANIZATION_ID": DEFAULT_ORG,
    "CLIENTS": {"sim-client": {"secret": "sim-secret", "organization_id": DEFAULT_ORG}},
    "TOKEN_TTL": 3599,
    "FAULTS": {"latency_ms": 0, "script": []},
    "SEED": True,
}
REFERENCED_TYPES = frozenset(
    "Patient Practitioner Location Encounter Condition Medication MedicationRequest ServiceRequest Specimen "
    "Observation DiagnosticReport Procedure".split()
)
FAULT_HEADER = "X-Simulator-Fault"


class SimState:
    """Everything the simulator remembers; guarded by one lock (the app may be served threaded)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (organization id, expires at)
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.identifiers: dict[tuple[str, str, str], str] = {}  # (type, system, value) -> id
        self.faults: dict[str, Any] = copy.deepcopy(dict(config["FAULTS"]))
        self.log: list[dict[str, Any]] = []

    def next_fault(self) -> Any:
        with self.lock:
            script = self.faults.setdefault("script", [])
            return script.pop(0) if script else None

    def store(self, rtype: str, resource: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            previous = self.resources.setdefault(rtype, {}).get(resource["id"])
            version = int(previous["meta"]["versionId"]) + 1 if previous else 1
            resource["meta"] = {"versionId": str(version), "lastUpdated": _now()}
            self.resources[rtype][resource["id"]] = resource
            for system, value in _identifier_pairs(resource):
                self.identifiers[(rtype, system, value)] = resource["id"]
            return resource

    def get(self, rtype: str, rid: str) -> dict[str, Any] | None:
        return self.resources.get(rtype, {}).get(rid)

    def find(self, rtype: str, system: str, value: str) -> str | None:
        return self.identifiers.get((rtype, system, value))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _identifier_pairs(resource: Mapping[str, Any]) -> list[tuple[str, str]]:
    idents = resource.get("identifier")
    idents = [idents] if isinstance(idents, Mapping) else idents or []
    return [(str(i["system"]), str(i["value"])) for i in idents if isinstance(i, Mapping) and i.get("system")
            and i.get("value")]  # fmt: skip


def outcome(status: int, code: str, text: str, expression: str | None = None, severity: str = "error") -> Response:
    issue: dict[str, Any] = {"severity": severity, "code": code, "details": {"text": text}}
    if expression:
        issue["expression"] = [expression]
    response = jsonify({"resourceType": "OperationOutcome", "issue": [issue]})
    response.status_code = status
    return response


def seed(state: SimState, org: str) -> None:
    """The sandbox's dummy master data: Budi Santoso, Dokter Bronsig, a poli room."""
    state.store("Patient", {
        "resourceType": "Patient", "id": "100000030009", "name": [{"text": "Budi Santoso"}], "gender": "male",
        "birthDate": "1980-11-17",
        "identifier": [{"system": NATIONAL_IDS + "nik", "value": "3174031002890009"}],
    })  # fmt: skip
    state.store("Practitioner", {
        "resourceType": "Practitioner", "id": "N10000001", "name": [{"text": "Dokter Bronsig"}],
        "identifier": [{"system": NATIONAL_IDS + "nik", "value": "3171010101800001"}],
    })  # fmt: skip
    state.store("Location", {
        "resourceType": "Location", "id": "b017aa54-f1df-4ec2-9d84-8823815d7228", "name": "Poli Umum",
        "status": "active", "managingOrganization": {"reference": f"Organization/{org}"},
        "identifier": [{"system": f"http://sys-ids.kemkes.go.id/location/{org}", "value": "POLI-UMUM"}],
    })  # fmt: skip


# ------------------------------------------------------------------------------------------ the app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The simulator; ``config`` overrides :data:`DEFAULTS` (``ORGANIZATION_ID``, ``CLIENTS``, ``TOKEN_TTL``,
    ``FAULTS``, ``SEED``)."""
    app = Flask("satusehat-simulator")
    app.config.update(copy.deepcopy(DEFAULTS))
    app.config.update(config or {})
    state = SimState(app.config)
    app.extensions["satusehat_sim"] = state
    if app.config["SEED"]:
        seed(state, str(app.config["ORGANIZATION_ID"]))
    _routes(app, state)
    return app


def _routes(app: Flask, state: SimState) -> None:
    @app.before_request
    def _latency_and_log() -> None:
        latency = float(state.faults.get("latency_ms") or 0)
        if latency and not request.path.startswith("/__sim__"):
            time.sleep(latency / 1000)
        if not request.path.startswith("/__sim__"):
            with state.lock:
                state.log.append({"method": request.method, "path": request.full_path.rstrip("?")})

    @app.post("/oauth2/v1/accesstoken")
    def token() -> Response:
        return issue_token(state)

    @app.route("/fhir-r4/v1/<path:path>", methods=["GET", "POST", "PUT", "PATCH"])
    def fhir(path: str) -> Response:
        return fhir_request(state, path)

    @app.post("/fhir-r4/v1", strict_slashes=False)
    def fhir_base() -> Response:
        return fhir_request(state, "")

    @app.post("/__sim__/faults")
    def set_faults() -> Response:
        with state.lock:
            state.faults.update(request.get_json(force=True) or {})
            return jsonify(state.faults)

    @app.get("/__sim__/log")
    def get_log() -> Response:
        with state.lock:
            return jsonify(state.log)

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})


def issue_token(state: SimState) -> Response:
    if request.args.get("grant_type") != "client_credentials":
        return outcome(400, "value", "grant_type=client_credentials is required in the query string")
    if request.mimetype != "application/x-www-form-urlencoded":
        return outcome(400, "value", "Content-Type must be application/x-www-form-urlencoded")
    client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
    client = state.config["CLIENTS"].get(client_id)
    if not client or not secrets.compare_digest(str(client["secret"]), secret):
        return outcome(
            401,
            "value",
            "The user or system was not able to be authenticated (either client_id or "
            "client_secret combination is unacceptable)",
            severity="invalid",
        )
    ttl = int(state.config["TOKEN_TTL"])
    access = secrets.token_urlsafe(24)
    with state.lock:
        state.tokens[access] = (str(client["organization_id"]), time.time() + ttl)
    return jsonify({
        "refresh_token_expires_in": "0", "api_product_list": "[api-sandbox]", "organization_name": "ihs-prod-1",
        "developer.email": "simulator@example.invalid", "token_type": "BearerToken",
        "issued_at": str(int(time.time() * 1000)), "client_id": client_id, "access_token": access,
        "application_name": "jembatan-simulator", "scope": "", "expires_in": str(ttl), "refresh_count": "0",
        "status": "approved",
    })  # fmt: skip


def _token_org(state: SimState) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer ") :]
    with state.lock:
        found = state.tokens.get(token)
        if found is None or found[1] < time.time():
            state.tokens.pop(token, None)
            return None
        return found[0]


def _revoke_presented_token(state: SimState) -> None:
    token = request.headers.get("Authorization", "")[len("Bearer ") :]
    with state.lock:
        state.tokens.pop(token, None)


def fhir_request(state: SimState, path: str) -> Response:
    fault = state.next_fault()
    if fault == "expire":
        _revoke_presented_token(state)
    org = _token_org(state)
    if org is None:
        return outcome(401, "invalid-access-token", "Invalid Access Token.")
    if fault in (429, "429"):
        return outcome(429, "throttled", "Too Many Requests")
    if fault in (500, "500", 504, "504"):
        return Response("Gateway Timeout", status=504 if str(fault) == "504" else 500, mimetype="text/plain")
    response = _dispatch(state, org, path)
    if fault == "drop":
        _break_body(response)
    return response


def _break_body(response: Response) -> None:
    """Lose the reply after the work is done: one byte of the body, then the connection dies.

    Over a real socket the client sees an incomplete response; in process the
    ``X-Simulator-Fault`` header lets :class:`DroppingTransport` raise before the body is read.
    """
    body = response.get_data()

    def broken() -> Iterator[bytes]:
        yield body[:1]
        raise ConnectionAbortedError("simulated dropped connection")

    response.response = broken()
    response.headers[FAULT_HEADER] = "drop"


def _dispatch(state: SimState, org: str, path: str) -> Response:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return transaction(state, org)
    rtype = parts[0]
    if request.method == "GET":
        return read(state, rtype, parts[1]) if len(parts) > 1 else search(state, rtype)
    if request.method == "PATCH" and len(parts) == 2:
        return patch(state, org, rtype, parts[1])
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return outcome(400, "structure", "body must be a FHIR JSON resource")
    if request.method == "POST" and len(parts) == 1:
        return create(state, org, rtype, body)
    if request.method == "PUT" and len(parts) == 2:
        return update(state, org, rtype, parts[1], body)
    return outcome(405, "not-supported", f"{request.method} {path} is not supported")


# ------------------------------------------------------------------------------------ FHIR handlers


def _rule_errors(org: str, doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    from adapters.base import MapContext
    from adapters.satusehat.validator import vital_unit_lookup

    rc = RuleContext(org, None, vital_unit_lookup(MapContext()))
    return [_oo_issue(i.code, i.message, i.expression[0] if i.expression else None)
            for i in check_payload(doc, rc) if i.is_error]  # fmt: skip


def _oo_issue(code: str, text: str, expression: str | None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "details": {"text": text}}
    if expression:
        issue["expression"] = [expression]
    return issue


def _reject(issues: list[dict[str, Any]], status: int = 400) -> Response:
    response = jsonify({"resourceType": "OperationOutcome", "issue": issues})
    response.status_code = status
    return response


def _semantic_errors(
    state: SimState,
    org: str,
    rtype: str,
    res: Mapping[str, Any],
    rid: str | None,
    where: str,
    pending: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """What only a server with state can tell: duplicates, dangling references, history rewrites."""
    issues = []
    for system, value in _identifier_pairs(res):
        existing = state.find(rtype, system, value)
        if existing is not None and existing != rid:
            issues.append(
                _oo_issue(
                    "duplicate",
                    f"{rtype} with identifier {system}|{value} already exists ({rtype}/{existing})",
                    f"{where}.identifier",
                )
            )
    for path, ref in _references(res, where):
        target_type, _, target_id = ref.partition("/")
        if (target_type == "Organization" and target_id == org) or ref in pending:
            continue
        if target_type in REFERENCED_TYPES and "/" not in target_id and state.get(target_type, target_id) is None:
            issues.append(_oo_issue("not-found", f"referenced resource {ref} does not exist", path))
    if rtype == "Encounter" and rid is not None:
        issues.extend(_history_errors(state.get("Encounter", rid), res, where))
    return issues


def _references(obj: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if key == "reference" and isinstance(value, str):
                found.append((f"{path}.reference", value))
            else:
                found.extend(_references(value, f"{path}.{key}"))
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            found.extend(_references(item, f"{path}[{i}]"))
    return found


def _history_errors(stored: Mapping[str, Any] | None, new: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    if stored is None:
        return []
    before = [h.get("status") for h in stored.get("statusHistory") or []]
    after = [h.get("status") for h in new.get("statusHistory") or []]
    if after[: len(before)] != before:
        return [
            _oo_issue(
                "business-rule",
                f"statusHistory {after} does not extend the recorded history {before}",
                f"{where}.statusHistory",
            )
        ]
    return []


def _new_id(rtype: str) -> str:
    if rtype == "Patient":
        return "P" + str(uuid.uuid4().int)[:11]
    return str(uuid.uuid4())


def create(state: SimState, org: str, rtype: str, body: dict[str, Any]) -> Response:
    if body.get("resourceType") != rtype:
        return outcome(400, "structure", f"resourceType must be {rtype}", "resourceType")
    with state.lock:
        issues = _rule_errors(org, body) or _semantic_errors(state, org, rtype, body, None, rtype)
        if issues:
            return _reject(issues)
        resource = state.store(rtype, {**copy.deepcopy(body), "id": _new_id(rtype)})
    if rtype == "Patient":
        return _patient_reply(resource)
    response = jsonify(resource)
    response.status_code = 201
    response.headers["Location"] = f"{rtype}/{resource['id']}/_history/1"
    return response


def _patient_reply(resource: Mapping[str, Any]) -> Response:
    """MPI's non-FHIR replies: NIK create vs newborn (NIK ibu) create."""
    data = {"success": True, "data": {"patient_id": resource["id"]}}
    systems = {s for s, _ in _identifier_pairs(resource)}
    if NATIONAL_IDS + "nik-ibu" in systems and NATIONAL_IDS + "nik" not in systems:
        return jsonify({"create_patient": data})
    return jsonify(data)


def update(state: SimState, org: str, rtype: str, rid: str, body: dict[str, Any]) -> Response:
    if not body.get("id"):
        return outcome(400, "required", "id is required", f"{rtype}.id")
    if body["id"] != rid or body.get("resourceType") != rtype:
        return outcome(400, "value", f"body id {body['id']!r} does not match {rtype}/{rid}", f"{rtype}.id")
    with state.lock:
        if state.get(rtype, rid) is None:
            return outcome(404, "not-found", f"{rtype}/{rid} not found")
        issues = _rule_errors(org, body) or _semantic_errors(state, org, rtype, body, rid, rtype)
        if issues:
            return _reject(issues)
        return jsonify(state.store(rtype, copy.deepcopy(body)))


def patch(state: SimState, org: str, rtype: str, rid: str) -> Response:
    """JSON Patch (``application/json-patch+json``: add / replace / remove), then the update rules."""
    if request.mimetype != "application/json-patch+json":
        return outcome(415, "not-supported", "PATCH takes application/json-patch+json")
    ops = request.get_json(force=True, silent=True)
    with state.lock:
        current = state.get(rtype, rid)
        if current is None:
            return outcome(404, "not-found", f"{rtype}/{rid} not found")
        try:
            patched = apply_json_patch(current, ops)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return outcome(400, "invalid", f"JSON Patch cannot be applied: {exc}")
        patched.pop("meta", None)
        issues = _rule_errors(org, patched) or _semantic_errors(state, org, rtype, patched, rid, rtype)
        if issues:
            return _reject(issues)
        return jsonify(state.store(rtype, patched))


def apply_json_patch(doc: Mapping[str, Any], ops: Any) -> dict[str, Any]:
    """The add / replace / remove operations of RFC 6902 on a copy of ``doc``."""
    if not isinstance(ops, list):
        raise ValueError("a JSON Patch is an array of operations")
    result = copy.deepcopy(dict(doc))
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in str(op["path"]).split("/")[1:]]
        target: Any = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        _patch_one(target, str(op["op"]), last, op.get("value"))
    return result


def _patch_one(target: Any, op: str, key: str, value: Any) -> None:
    if isinstance(target, list):
        index = len(target) if key == "-" else int(key)
        if op == "add":
            target.insert(index, value)
        elif op == "replace":
            target[index] = value
        elif op == "remove":
            del target[index]
        else:
            raise ValueError(f"unsupported op {op!r}")
    elif op in ("add", "replace"):
        if op == "replace" and key not in target:
            raise KeyError(key)
        target[key] = value
    elif op == "remove":
        del target[key]
    else:
        raise ValueError(f"unsupported op {op!r}")


def read(state: SimState, rtype: str, rid: str) -> Response:
    resource = state.get(rtype, rid)
    if resource is None:
        return outcome(404, "not-found", f"{rtype}/{rid} not found")
    return jsonify(resource)


SEARCH_PARAMS = frozenset(
    {"identifier", "subject", "encounter", "patient", "based-on", "name", "birthdate", "gender", "nik"}
)


def search(state: SimState, rtype: str) -> Response:
    unknown = sorted(set(request.args) - SEARCH_PARAMS)
    if unknown:
        return outcome(400, "not-supported", f"unsupported search parameter(s): {', '.join(unknown)}")
    with state.lock:
        found = [r for r in state.resources.get(rtype, {}).values() if _matches(r, request.args)]
    return jsonify({"resourceType": "Bundle", "type": "searchset", "total": len(found),
                    "entry": [{"fullUrl": f"{rtype}/{r['id']}", "resource": r} for r in found]})  # fmt: skip


def _matches(resource: Mapping[str, Any], args: Mapping[str, str]) -> bool:
    return all(_matches_one(resource, name, value) for name, value in args.items())


def _matches_one(resource: Mapping[str, Any], name: str, value: str) -> bool:
    pairs = _identifier_pairs(resource)
    if name in ("identifier", "nik"):
        system, _, code = value.rpartition("|")
        system = NATIONAL_IDS + "nik" if name == "nik" else system
        return (system, code) in pairs or (not system and any(v == code for _, v in pairs))
    if name in ("subject", "encounter", "patient", "based-on"):
        refs = resource.get("basedOn") if name == "based-on" else [resource.get(name)]
        ids = {str((r or {}).get("reference", "")).rsplit("/", 1)[-1] for r in refs or []}
        return value.rsplit("/", 1)[-1] in ids
    if name == "name":
        texts = " ".join(n.get("text", "") for n in resource.get("name") or [])
        return value.lower() in texts.lower()
    if name == "birthdate":
        return str(resource.get("birthDate", "")).startswith(value)
    return str(resource.get(name, "")) == value  # gender


def transaction(state: SimState, org: str) -> Response:
    """``POST /fhir-r4/v1`` with a transaction Bundle: validated whole, applied all or nothing."""
    bundle = request.get_json(silent=True)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return outcome(400, "structure", "a transaction Bundle is expected")
    issues = _rule_errors(org, bundle)
    if issues:
        return _reject(issues)
    entries = bundle.get("entry") or []
    with state.lock:
        plan = _plan(entries)
        if isinstance(plan, Response):
            return plan
        resolved = _resolve_uuids(copy.deepcopy(entries), plan)
        pending = frozenset(f"{rtype}/{rid}" for rtype, rid, method in plan if method == "POST")
        issues = []
        for i, (entry, (rtype, rid, method)) in enumerate(zip(resolved, plan, strict=True)):
            where = f"Bundle.entry[{i}].resource"
            known = rid if method == "PUT" else None
            issues.extend(_semantic_errors(state, org, rtype, entry["resource"], known, where, pending))
        if issues:
            return _reject(issues)
        out = [
            _apply(state, entry["resource"], rtype, rid, method)
            for entry, (rtype, rid, method) in zip(resolved, plan, strict=True)
        ]
    return jsonify({"resourceType": "Bundle", "type": "transaction-response", "entry": out})


def _plan(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]] | Response:
    plan = []
    for i, entry in enumerate(entries):
        method = str(entry["request"]["method"]).upper()
        rtype = entry["resource"]["resourceType"]
        if method == "POST":
            plan.append((rtype, _new_id(rtype), method))
        elif method == "PUT":
            rid = entry["resource"].get("id") or ""
            plan.append((rtype, rid, method))
        else:
            return outcome(
                400,
                "not-supported",
                f"{method} entries are not supported in a transaction",
                f"Bundle.entry[{i}].request.method",
            )
    return plan


def _resolve_uuids(entries: list[dict[str, Any]], plan: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    targets = {e.get("fullUrl"): f"{rtype}/{rid}" for e, (rtype, rid, _) in zip(entries, plan, strict=True)}

    def rewrite(obj: Any) -> None:
        if isinstance(obj, dict):
            if isinstance(obj.get("reference"), str) and obj["reference"] in targets:
                obj["reference"] = targets[obj["reference"]]
            for value in obj.values():
                rewrite(value)
        elif isinstance(obj, list):
            for item in obj:
                rewrite(item)

    rewrite(entries)
    return entries


def _apply(state: SimState, resource: dict[str, Any], rtype: str, rid: str, method: str) -> dict[str, Any]:
    stored = state.store(rtype, {**resource, "id": rid})
    status = "201 Created" if method == "POST" else "200 OK"
    version = stored["meta"]["versionId"]
    return {"response": {"status": status, "location": f"{rtype}/{rid}/_history/{version}",
                         "etag": f'W/"{version}"', "lastModified": stored["meta"]["lastUpdated"]}}  # fmt: skip


class DroppingTransport(httpx.BaseTransport):
    """httpx transport over the simulator app that loses replies marked ``X-Simulator-Fault: drop``.

    ``httpx.Client(transport=DroppingTransport(app), base_url="http://satusehat.sim")``.
    """

    def __init__(self, app: Flask) -> None:
        self._inner = httpx.WSGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.headers.get(FAULT_HEADER) == "drop":
            response.close()
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return response

    def close(self) -> None:
        self._inner.close()
