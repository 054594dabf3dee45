"""The outbox destination of type ``bpjs``: one outbox entry = one BPJS request payload.

``DESTINATIONS = {name: {"type": "bpjs", "cons_id": ..., "secret": ..., "user_keys": {...}, ...}}``
with the keys of :class:`~bridge.upstreams.bpjs.client.BpjsConfig` plus ``max_attempts`` (8),
``backoff_base`` (5 s) and ``backoff_max`` (900 s).

The payload's kind picks the call: Rujukan 2.0 insert / update / delete, Rujukan Khusus insert, PRB
insert or PCare kunjungan. BPJS refusals (:class:`BpjsRejected`) go to the dead letters; timeouts,
429 and 5xx (:class:`BpjsUnavailable`) are retried by the outbox.

**Retries never create a second referral.** Each insert is keyed by ``noSep|tglRujukan|ppkDirujuk``
in the id map (upstream ``bpjs``). Before inserting, the destination looks in the id map and then in
BPJS's own outgoing list for that date (``Rujukan/Keluar/List``): when the SEP already has a referral
to that PPK, because an earlier attempt's answer was lost, that referral is adopted instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.bpjs.models import detect_kind, normalise
from bridge.errors import PermanentDeliveryError
from bridge.upstreams.bpjs.client import BpjsClient, BpjsConfig, BpjsRejected

__all__ = ["BpjsDestination"]

_NOT_CONFIG = ("type", "max_attempts", "backoff_base", "backoff_max")


class BpjsDestination:
    def __init__(self, name: str, settings: Mapping[str, Any], db: Any = None,
                 client: BpjsClient | None = None) -> None:  # fmt: skip
        self.name = name
        self.max_attempts = int(settings.get("max_attempts") or 8)
        self.backoff_base = float(settings.get("backoff_base") or 5)
        self.backoff_max = float(settings.get("backoff_max") or 900)
        config = {k: v for k, v in settings.items() if k not in _NOT_CONFIG}
        self.client = client or BpjsClient(BpjsConfig.from_mapping(config))
        self.ids = _id_store(db)

    def close(self) -> None:
        self.client.close()

    def deliver(self, payload: bytes, media_type: str) -> Any:
        try:
            doc = normalise(json.loads(payload.decode("utf-8")))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PermanentDeliveryError("GW-5243", f"outbox payload for {self.name} is not JSON: {exc}") from exc
        kind = detect_kind(doc)
        handler = _HANDLERS.get(kind or "")
        if handler is None:
            raise PermanentDeliveryError("GW-5244", f"{self.name}: cannot send a BPJS payload of kind {kind!r}")
        return handler(self, doc)

    # ------------------------------------------------------------ per kind

    def _insert(self, doc: dict[str, Any]) -> Any:
        t = doc["request"]["t_rujukan"]
        key = f"{t.get('noSep')}|{t.get('tglRujukan')}|{t.get('ppkDirujuk')}"
        known = self.ids.get("rujukan", key) if self.ids else None
        if known is None:
            known = self._already_at_bpjs(t)
        if known is not None:
            self._remember(key, known)
            return _receipt(looked_up=1, ids={key: known})
        number = self.client.insert_rujukan(t)["rujukan"]["noRujukan"]
        self._remember(key, number)
        return _receipt(created=1, ids={key: number})

    def _already_at_bpjs(self, t: Mapping[str, Any]) -> str | None:
        try:
            listed = self.client.rujukan_keluar_list(t["tglRujukan"], t["tglRujukan"])
        except BpjsRejected:  # 201 "Data tidak ditemukan": nothing sent that day
            return None
        for row in (listed or {}).get("list") or []:
            if row.get("noSep") == t.get("noSep") and row.get("ppkDirujuk") == t.get("ppkDirujuk"):
                return str(row["noRujukan"])
        return None

    def _remember(self, key: str, number: str) -> None:
        if self.ids is not None:
            self.ids.put("rujukan", key, number)

    def _update(self, doc: dict[str, Any]) -> Any:
        number = self.client.update_rujukan(doc["request"]["t_rujukan"])
        return _receipt(updated=1, ids={"noRujukan": str(number)})

    def _delete(self, doc: dict[str, Any]) -> Any:
        t = doc["request"]["t_rujukan"]
        try:
            self.client.delete_rujukan(t["noRujukan"], t["user"])
        except BpjsRejected as exc:
            if exc.bpjs_code == 201 and "tidak ditemukan" in exc.bpjs_message:
                return _receipt(looked_up=1)  # gone already (an earlier attempt's answer was lost)
            raise
        return _receipt(updated=1, ids={"noRujukan": t["noRujukan"]})

    def _khusus(self, doc: dict[str, Any]) -> Any:
        answer = self.client.insert_rujukan_khusus(
            doc["noRujukan"],
            [d["kode"] for d in doc.get("diagnosa") or []],
            [p["kode"] for p in doc.get("procedure") or []],
            doc["user"],
        )
        return _receipt(created=1, ids={"noRujukan": str(answer["rujukan"]["norujukan"])})

    def _prb(self, doc: dict[str, Any]) -> Any:
        answer = self.client.insert_prb(doc["request"]["t_prb"])
        return _receipt(created=1, ids={"noSRB": str(answer.get("noSRB"))})

    def _kunjungan(self, doc: dict[str, Any]) -> Any:
        answer = self.client.pcare_insert_kunjungan(doc)
        return _receipt(created=1, ids={"noKunjungan": str(answer.get("message"))})


_HANDLERS = {
    "vclaim-rujukan-insert": BpjsDestination._insert,
    "vclaim-rujukan-update": BpjsDestination._update,
    "vclaim-rujukan-delete": BpjsDestination._delete,
    "vclaim-rujukan-khusus-insert": BpjsDestination._khusus,
    "vclaim-prb-insert": BpjsDestination._prb,
    "pcare-kunjungan": BpjsDestination._kunjungan,
}


def _id_store(db: Any) -> Any:
    if db is None:
        return None
    try:
        from bridge.destinations import IdStore
    except ImportError:  # pragma: no cover - outbox feature absent from this build
        return None
    return IdStore(db, "bpjs")


def _receipt(created: int = 0, updated: int = 0, looked_up: int = 0, ids: Mapping[str, str] | None = None) -> Any:
    try:
        from bridge.destinations import Receipt
    except ImportError:  # pragma: no cover
        return {"created": created, "updated": updated, "looked_up": looked_up, "ids": dict(ids or {})}
    return Receipt(created=created, updated=updated, looked_up=looked_up, ids=dict(ids or {}))
