"""Where outbox entries go: destinations built from ``DESTINATIONS`` in the app config.

``DESTINATIONS = {name: {"type": "satusehat", ...}}``; keys of a ``satusehat`` destination:

=================== =========================================================================
``type``            ``"satusehat"``
``environment``     ``sandbox`` (default) / ``staging`` / ``production``: picks the host
``base_url``        host override (e.g. the simulator ``http://127.0.0.1:8081``)
``auth_url``        OAuth base override (default ``{host}/oauth2/v1``)
``client_id``       \\
``client_secret``    > the credentials registered for the facility (one organization each)
``organization_id`` /
``mode``            ``resource`` (default: one request per resource, dependency order) or
                    ``transaction`` (one transaction Bundle)
``proxy``           egress proxy URL (SATUSEHAT refuses non-Indonesian addresses)
``timeout``         read timeout, seconds (30); ``connect_timeout`` (10)
``token_margin``    refresh the token this many seconds before ``expires_in`` (60)
``rate_limit``      requests per second per worker (0 = unlimited)
``max_attempts``    retries before an entry goes ``dead`` (8)
``backoff_base``    first retry delay in seconds (5), doubled each attempt, capped by ``backoff_max`` (900)
=================== =========================================================================

A :class:`SatusehatDestination` keeps the local <-> remote id map (:class:`bridge.models.IdMap`,
keyed by business identifier) so that a retry *updates* (PUT) what an earlier attempt created
instead of creating a duplicate, even when that attempt's reply was lost: a ``duplicate``
rejection is answered by looking the resource up by identifier and updating it.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from adapters.satusehat.profile import DEPENDENCY_ORDER
from bridge.db import Database
from bridge.errors import ConfigError, PermanentDeliveryError
from bridge.models import IdMap
from bridge.upstreams.satusehat.client import (
    Envelope,
    SatusehatClient,
    SatusehatConfig,
    SatusehatRejected,
)

NIK_SYSTEMS = ("https://fhir.kemkes.go.id/id/nik", "https://fhir.kemkes.go.id/id/nik-ibu")


@dataclass(frozen=True)
class Receipt:
    """What a delivery did: ``created``/``updated``/``looked_up`` counts and the ids it resolved."""

    created: int = 0
    updated: int = 0
    looked_up: int = 0
    ids: Mapping[str, str] = field(default_factory=dict)


class Destination(Protocol):
    name: str
    max_attempts: int
    backoff_base: float
    backoff_max: float

    def deliver(self, payload: bytes, media_type: str) -> Receipt: ...

    def close(self) -> None: ...


class IdStore:
    """The id map of one upstream, each write committed at once (a crash must not forget an id)."""

    def __init__(self, db: Database, upstream: str) -> None:
        self.db, self.upstream = db, upstream

    def get(self, resource_type: str, local_key: str) -> str | None:
        with self.db.session() as sess:
            row = sess.scalar(select(IdMap).where(IdMap.upstream == self.upstream, IdMap.resource_type ==
                                                  resource_type, IdMap.local_key == local_key))  # fmt: skip
            return row.remote_id if row else None

    def put(self, resource_type: str, local_key: str, remote_id: str) -> None:
        try:
            with self.db.session() as sess:
                row = sess.scalar(select(IdMap).where(IdMap.upstream == self.upstream, IdMap.resource_type ==
                                                      resource_type, IdMap.local_key == local_key))  # fmt: skip
                if row is None:
                    sess.add(IdMap(upstream=self.upstream, resource_type=resource_type, local_key=local_key,
                                   remote_id=remote_id))  # fmt: skip
                else:
                    row.remote_id = remote_id
        except IntegrityError:  # another worker recorded the same key first: keep theirs
            return


def local_key(entry: Mapping[str, Any]) -> str:
    """Business key of a Bundle entry: its first identifier ``system|value``, else its fullUrl."""
    resource = entry.get("resource") or {}
    idents = resource.get("identifier")
    idents = [idents] if isinstance(idents, Mapping) else idents or []
    for ident in idents:
        if isinstance(ident, Mapping) and ident.get("system") and ident.get("value"):
            return f"{ident['system']}|{ident['value']}"
    return str(entry.get("fullUrl") or json.dumps(resource, sort_keys=True)[:300])


def _ordered(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(entry: Mapping[str, Any]) -> int:
        rtype = (entry.get("resource") or {}).get("resourceType")
        return DEPENDENCY_ORDER.index(rtype) if rtype in DEPENDENCY_ORDER else len(DEPENDENCY_ORDER)

    return sorted(entries, key=rank)


def rewrite_references(obj: Any, ids: Mapping[str, str]) -> None:
    """Replace ``urn:uuid:`` (and other Bundle-local) references by the resolved ``Type/id`` in place."""
    if isinstance(obj, dict):
        ref = obj.get("reference")
        if isinstance(ref, str) and ref in ids:
            obj["reference"] = ids[ref]
        for value in obj.values():
            rewrite_references(value, ids)
    elif isinstance(obj, list):
        for item in obj:
            rewrite_references(item, ids)


@dataclass
class _Run:
    """One delivery of one payload: resolved ids and what was done."""

    ids: dict[str, str] = field(default_factory=dict)  # fullUrl -> "Type/id"
    created: int = 0
    updated: int = 0
    looked_up: int = 0

    def receipt(self) -> Receipt:
        return Receipt(self.created, self.updated, self.looked_up, dict(self.ids))


class SatusehatDestination:
    """Delivers SATUSEHAT transaction Bundles (or single resources) resource by resource or as one Bundle."""

    def __init__(self, name: str, settings: Mapping[str, Any], db: Database,
                 client: SatusehatClient | None = None) -> None:  # fmt: skip
        self.name = name
        self.mode = str(settings.get("mode") or "resource")
        if self.mode not in ("resource", "transaction"):
            raise ConfigError("GW-1640", f"destination {name}: mode must be resource or transaction")
        self.max_attempts = int(settings.get("max_attempts") or 8)
        self.backoff_base = float(settings.get("backoff_base") or 5)
        self.backoff_max = float(settings.get("backoff_max") or 900)
        self.client = client or SatusehatClient(SatusehatConfig.from_mapping(settings))
        self.ids = IdStore(db, name)

    def close(self) -> None:
        self.client.close()

    def deliver(self, payload: bytes, media_type: str) -> Receipt:
        doc = _load(payload)
        entries = _as_entries(doc)
        run = _Run()
        lookups = [e for e in entries if _method(e) == "GET" or e["resource"]["resourceType"] == "Patient"]
        for entry in lookups:
            self._resolve(entry, run)
        rest = [e for e in entries if e not in lookups]
        if self.mode == "transaction" and len(rest) > 1:
            self._send_transaction(rest, run)
            return run.receipt()
        local = {str(e.get("fullUrl")) for e in rest if e.get("fullUrl")}
        deferred = []
        for entry in _ordered(rest):
            if _diagnoses_pending(entry, local):
                self._send_one(_preliminary(entry), run)
                deferred.append(entry)
            else:
                self._send_one(entry, run)
        for entry in deferred:
            self._send_one(entry, run)  # the id is known now: an update with the diagnoses
        return run.receipt()

    # ---------------------------------------------------------------------------- lookups (GET)

    def _resolve(self, entry: dict[str, Any], run: _Run) -> None:
        resource = entry["resource"]
        rtype = resource["resourceType"]
        key = local_key(entry) if rtype != "Patient" else _nik_key(resource) or local_key(entry)
        remote = self.ids.get(rtype, key)
        if remote is None:
            remote = self._find(rtype, key)
            run.looked_up += 1
        if remote is None and rtype == "Patient":
            remote = self._create_patient(resource, run)
        if remote is None:
            raise PermanentDeliveryError("GW-5221", f"{rtype} {key} is not known to SATUSEHAT (register it first)")
        self.ids.put(rtype, key, remote)
        run.ids[str(entry.get("fullUrl"))] = f"{rtype}/{remote}"

    def _find(self, rtype: str, key: str) -> str | None:
        system, _, value = key.rpartition("|")
        return self.client.find_by_identifier(rtype, system, value) if system else None

    def _create_patient(self, resource: Mapping[str, Any], run: _Run) -> str | None:
        reply = self.client.create(resource)
        run.created += 1
        return reply.resource_id

    # -------------------------------------------------------------------------- one by one

    def _send_one(self, entry: dict[str, Any], run: _Run) -> None:
        resource = copy.deepcopy(entry["resource"])
        rewrite_references(resource, run.ids)
        rtype, key = resource["resourceType"], local_key(entry)
        remote = self.ids.get(rtype, key)
        if remote is not None:
            self._update(resource, remote, run)
        else:
            remote = self._create(resource, key, run)
        self.ids.put(rtype, key, remote)
        run.ids[str(entry.get("fullUrl"))] = f"{rtype}/{remote}"

    def _create(self, resource: dict[str, Any], key: str, run: _Run) -> str:
        rtype = resource["resourceType"]
        try:
            reply = self.client.create(resource)
        except SatusehatRejected as exc:
            if exc.code != "GW-5202":
                raise
            remote = self._find(rtype, key)  # an earlier attempt created it and its reply was lost
            if remote is None:
                raise
            self._update(resource, remote, run)
            return remote
        run.created += 1
        remote_id = reply.resource_id
        if not remote_id:
            raise PermanentDeliveryError("GW-5222", f"SATUSEHAT created a {rtype} without telling its id")
        self.ids.put(rtype, key, remote_id)
        return remote_id

    def _update(self, resource: dict[str, Any], remote: str, run: _Run) -> None:
        body = {**resource, "id": remote}
        try:
            self.client.update(body)
        except SatusehatRejected:
            if not self._superseded(body):
                raise
            return
        run.updated += 1

    def _superseded(self, body: Mapping[str, Any]) -> bool:
        """An older Encounter state arriving after a newer one: the server's history already covers it."""
        if body.get("resourceType") != "Encounter":
            return False
        current = self.client.read("Encounter", str(body["id"]))
        ours = [h.get("status") for h in body.get("statusHistory") or []]
        theirs = [h.get("status") for h in current.get("statusHistory") or []]
        return len(theirs) > len(ours) and theirs[: len(ours)] == ours

    # ------------------------------------------------------------------------ transaction Bundle

    def _send_transaction(self, entries: list[dict[str, Any]], run: _Run) -> None:
        for entry in entries:  # references to what already exists become plain Type/id
            rtype = entry["resource"]["resourceType"]
            remote = self.ids.get(rtype, local_key(entry))
            if remote is not None and entry.get("fullUrl"):
                run.ids[str(entry["fullUrl"])] = f"{rtype}/{remote}"
        bundle_entries = [self._transaction_entry(e, run) for e in _ordered(entries)]
        try:
            reply = self.client.transaction({"resourceType": "Bundle", "type": "transaction",
                                             "entry": bundle_entries})  # fmt: skip
        except SatusehatRejected as exc:
            if exc.code != "GW-5202" or not self._adopt_existing(entries):
                raise
            return self._send_transaction(entries, run)  # ids now known: the retry updates
        self._record_transaction(entries, reply, run)

    def _transaction_entry(self, entry: dict[str, Any], run: _Run) -> dict[str, Any]:
        resource = copy.deepcopy(entry["resource"])
        rewrite_references(resource, run.ids)
        rtype = resource["resourceType"]
        remote = self.ids.get(rtype, local_key(entry))
        if remote is not None:
            resource["id"] = remote
            return {"fullUrl": f"{rtype}/{remote}", "resource": resource,
                    "request": {"method": "PUT", "url": f"{rtype}/{remote}"}}  # fmt: skip
        return {"fullUrl": entry.get("fullUrl"), "resource": resource, "request": {"method": "POST", "url": rtype}}

    def _adopt_existing(self, entries: list[dict[str, Any]]) -> bool:
        """After a ``duplicate`` rejection: find what already exists by identifier and remember it."""
        adopted = False
        for entry in entries:
            rtype, key = entry["resource"]["resourceType"], local_key(entry)
            if self.ids.get(rtype, key) is None and (remote := self._find(rtype, key)) is not None:
                self.ids.put(rtype, key, remote)
                adopted = True
        return adopted

    def _record_transaction(self, entries: list[dict[str, Any]], reply: Envelope, run: _Run) -> None:
        results = reply.data.get("entry") if isinstance(reply.data, Mapping) else None
        if not isinstance(results, list) or len(results) != len(entries):
            raise PermanentDeliveryError("GW-5223", "transaction-response does not answer every entry")
        for entry, result in zip(_ordered(entries), results, strict=True):
            response = result.get("response") or {}
            rtype, _, rest = str(response.get("location", "")).partition("/")
            remote = rest.split("/", 1)[0]
            self.ids.put(rtype, local_key(entry), remote)
            run.ids[str(entry.get("fullUrl"))] = f"{rtype}/{remote}"
            if str(response.get("status", "")).startswith("201"):
                run.created += 1
            else:
                run.updated += 1


def _load(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise PermanentDeliveryError("GW-5220", f"outbox payload is not JSON: {exc}") from exc


def _as_entries(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise PermanentDeliveryError("GW-5220", "outbox payload is not a FHIR resource")
    if doc["resourceType"] != "Bundle":
        return [{"fullUrl": None, "resource": doc, "request": {"method": "POST", "url": doc["resourceType"]}}]
    return [copy.deepcopy(e) for e in doc.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"),
                                                                                                   dict)]  # fmt: skip


def _diagnoses_pending(entry: Mapping[str, Any], local: set[str]) -> bool:
    """An Encounter whose diagnoses point to Conditions of the same payload (which need the Encounter first)."""
    resource = entry.get("resource") or {}
    if resource.get("resourceType") != "Encounter":
        return False
    refs = [(d.get("condition") or {}).get("reference") for d in resource.get("diagnosis") or []]
    return any(ref in local for ref in refs)


def _preliminary(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The Encounter without diagnoses and, if finished, in its last state before that."""
    resource = copy.deepcopy(dict(entry["resource"]))
    resource.pop("diagnosis", None)
    history = resource.get("statusHistory") or []
    if resource.get("status") == "finished" and len(history) > 1:
        resource["statusHistory"] = history[:-1]
        resource["status"] = history[-2].get("status")
    return {**entry, "resource": resource}


def _method(entry: Mapping[str, Any]) -> str:
    return str((entry.get("request") or {}).get("method") or "POST").upper()


def _nik_key(resource: Mapping[str, Any]) -> str | None:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, Mapping) and ident.get("system") in NIK_SYSTEMS and ident.get("value"):
            return f"{ident['system']}|{ident['value']}"
    return None


Factory = Callable[[str, Mapping[str, Any], Database], Destination]
# Destination types: "module:Class", imported on first use so an upstream's client loads only when configured.
FACTORIES: dict[str, str] = {
    "satusehat": "bridge.destinations:SatusehatDestination",
    "bpjs": "bridge.upstreams.bpjs.destination:BpjsDestination",
    "dhis2": "bridge.upstreams.dhis2.destination:Dhis2Destination",
}


def factory_for(kind: str) -> Factory | None:
    target = FACTORIES.get(kind)
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def build_destinations(config: Mapping[str, Mapping[str, Any]], db: Database) -> dict[str, Destination]:
    """One destination per ``DESTINATIONS`` entry; an unknown ``type`` is a configuration error."""
    built: dict[str, Destination] = {}
    for name, settings in config.items():
        factory = factory_for(str(settings.get("type")))
        if factory is None:
            raise ConfigError("GW-1641", f"destination {name}: unknown type {settings.get('type')!r}")
        built[name] = factory(name, settings, db)
    return built


def iter_entries(bundle: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from _ordered([dict(e) for e in bundle.get("entry") or [] if isinstance(e, Mapping)])
