"""httpx client of one DHIS2 instance: metadata pull (cached, incremental by ``lastUpdated``) and push.

Push sends ``POST /api/dataValueSets`` with every id scheme explicit, optionally a ``dryRun``
first, the configured ``importStrategy``, sync or async (poll the task, then fetch the task
summary), and reads the ImportSummary into an :class:`~adapters.dhis2.import_summary.ImportResult`
whose issues point at the offending ``dataValues[i]``.

Errors for the outbox: network faults, 429 and 5xx are :class:`TransientDeliveryError`
(GW-515x, retried); 401/403, 400/415 and an import with status ERROR (HTTP 409, whole group
rejected) are :class:`PermanentDeliveryError` (GW-525x).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from adapters.dhis2.adx_xml import AdxCodec
from adapters.dhis2.dvs_csv import DataValueSetCsvCodec
from adapters.dhis2.dvs_json import DataValueSetJsonCodec
from adapters.dhis2.dvs_xml import DataValueSetXmlCodec
from adapters.dhis2.import_summary import ImportResult, parse_import_summary
from adapters.dhis2.metadata import MetadataSnapshot
from adapters.dhis2.model import AdxDocument, DataValueSet
from bridge.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError

MEDIA_TYPES = {
    "dhis2.dvs+json": "application/json",
    "dhis2.dvs+xml": "application/xml",
    "dhis2.dvs+csv": "application/csv",
    "dhis2.adx+xml": "application/adx+xml",
}
METADATA_TYPES = (
    "dataSets",
    "dataElements",
    "categoryCombos",
    "categories",
    "categoryOptions",
    "categoryOptionCombos",
    "organisationUnits",
    "attributes",
)
SCHEME_KEYS = (
    "idScheme",
    "dataElementIdScheme",
    "orgUnitIdScheme",
    "categoryOptionComboIdScheme",
    "attributeOptionComboIdScheme",
    "dataSetIdScheme",
)
STRATEGIES = ("CREATE", "UPDATE", "CREATE_AND_UPDATE", "DELETE")


class Dhis2Rejected(PermanentDeliveryError):
    """DHIS2 rejected a whole group (status ERROR, HTTP 409); carries the located issues for the outbox."""

    def __init__(self, code: str, message: str, *, status_code: int | None, operation_outcome: dict[str, Any]):
        super().__init__(code, message)
        self.status_code = status_code
        self.operation_outcome = operation_outcome


@dataclass
class Dhis2Config:
    """One DHIS2 destination. Auth: ``token`` (personal access token) or ``username`` + ``password``."""

    base_url: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    id_schemes: dict[str, str] = field(default_factory=dict)
    dry_run_first: bool = False
    import_strategy: str = "CREATE_AND_UPDATE"
    use_async: bool = False
    poll_interval: float = 1.0
    max_polls: int = 120
    timeout: float = 60.0
    metadata_cache: str | None = None

    def __post_init__(self) -> None:
        if not self.token and not (self.username and self.password):
            raise ConfigError("GW-7501", "DHIS2 destination needs a token or a username and password")
        if self.import_strategy not in STRATEGIES:
            raise ConfigError("GW-7502", f"importStrategy must be one of {', '.join(STRATEGIES)}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Dhis2Config:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def schemes(self, format_id: str) -> dict[str, str]:
        """Every id scheme explicit (DHIS2 defaults differ between versions and formats)."""
        base = "code" if format_id == "dhis2.adx+xml" else "uid"
        out = {key: self.id_schemes.get(key, self.id_schemes.get("idScheme", base)) for key in SCHEME_KEYS}
        if format_id == "dhis2.adx+xml":
            out["categoryIdScheme"] = self.id_schemes.get("categoryIdScheme", "code")
            out["categoryOptionIdScheme"] = self.id_schemes.get("categoryOptionIdScheme", "code")
        return out


def encode(model: DataValueSet | AdxDocument, format_id: str) -> bytes:
    codecs: dict[str, Any] = {
        "dhis2.dvs+json": DataValueSetJsonCodec(),
        "dhis2.dvs+xml": DataValueSetXmlCodec(),
        "dhis2.dvs+csv": DataValueSetCsvCodec(),
        "dhis2.adx+xml": AdxCodec(),
    }
    return codecs[format_id].serialize(model)  # type: ignore[no-any-return]


class Dhis2Client:
    def __init__(
        self,
        config: Dhis2Config,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.sleep = sleep
        headers = {"Accept": "application/json"}
        auth: httpx.Auth | None = None
        if config.token:
            headers["Authorization"] = f"ApiToken {config.token}"
        else:
            auth = httpx.BasicAuth(config.username or "", config.password or "")
        self.http = httpx.Client(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=config.timeout,
            transport=transport,
        )
        self._meta: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------- transport

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kw)
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError("GW-5151", f"DHIS2 timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError("GW-5152", f"DHIS2 unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientDeliveryError("GW-5153", f"DHIS2 answered HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise PermanentDeliveryError("GW-5251", f"DHIS2 refused the credentials (HTTP {response.status_code})")
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise PermanentDeliveryError("GW-5254", f"DHIS2 answered non-JSON (HTTP {response.status_code})") from exc
        return body if isinstance(body, dict) else {"items": body}

    # ---------------------------------------------------------------- metadata

    def _load_cache(self) -> dict[str, Any] | None:
        path = self.config.metadata_cache
        if self._meta is None and path and Path(path).is_file():
            self._meta = json.loads(Path(path).read_text(encoding="utf-8"))
        return self._meta

    def _save_cache(self) -> None:
        if self.config.metadata_cache and self._meta is not None:
            Path(self.config.metadata_cache).write_text(json.dumps(self._meta, ensure_ascii=False), encoding="utf-8")

    def pull_metadata(self, *, full: bool = False) -> dict[str, Any]:
        """The metadata export, refreshed incrementally with ``lastUpdated`` when a cached copy exists."""
        cached = None if full else self._load_cache()
        params = {t: "true" for t in METADATA_TYPES}
        params["fields"] = ":owner"
        since = MetadataSnapshot.from_metadata(cached).last_updated if cached else None
        if since:
            params["filter"] = f"lastUpdated:gt:{since}"
        response = self._request("GET", "/api/metadata", params=params)
        if response.status_code != 200:
            raise PermanentDeliveryError("GW-5255", f"metadata export failed (HTTP {response.status_code})")
        fresh = self._json(response)
        self._meta = merge_metadata(cached, fresh) if cached else fresh
        self._save_cache()
        return self._meta

    def snapshot(self, *, refresh: bool = False) -> MetadataSnapshot:
        meta = self.pull_metadata() if refresh or self._load_cache() is None else self._meta
        return MetadataSnapshot.from_metadata(meta or {})

    # ---------------------------------------------------------------- push

    def post_data_values(
        self, body: bytes, format_id: str, *, dry_run: bool, use_async: bool, extra: Mapping[str, str] | None = None
    ) -> ImportResult:
        params = {
            **self.config.schemes(format_id),
            "dryRun": str(dry_run).lower(),
            "importStrategy": self.config.import_strategy,
            "async": str(use_async).lower(),
            **(extra or {}),
        }
        response = self._request(
            "POST", "/api/dataValueSets", content=body, params=params, headers={"Content-Type": MEDIA_TYPES[format_id]}
        )
        if response.status_code in (400, 404, 415):
            raise PermanentDeliveryError(
                "GW-5253",
                f"DHIS2 refused the payload (HTTP {response.status_code}): {self._json(response).get('message', '')}",
            )
        body_json = self._json(response)
        if (
            use_async
            and response.status_code == 200
            and "relativeNotifierEndpoint" in (body_json.get("response") or {})
        ):
            return self._await_job(body_json["response"])
        return parse_import_summary(body_json, response.status_code)

    def _await_job(self, job: Mapping[str, Any]) -> ImportResult:
        endpoint = str(job["relativeNotifierEndpoint"])
        for _ in range(self.config.max_polls):
            notes = self._request("GET", endpoint).json()
            if any(isinstance(n, dict) and n.get("completed") for n in (notes if isinstance(notes, list) else [])):
                summary = self._request("GET", f"/api/system/taskSummaries/DATAVALUE_IMPORT/{job['id']}")
                return parse_import_summary(self._json(summary), summary.status_code)
            self.sleep(self.config.poll_interval)
        raise TransientDeliveryError(
            "GW-5154", f"DHIS2 import job {job['id']} not finished after {self.config.max_polls} polls"
        )

    def push(
        self,
        payload: DataValueSet | AdxDocument | bytes,
        format_id: str = "dhis2.dvs+json",
        *,
        data_set: str | None = None,
    ) -> ImportResult:
        """Dry run first when configured (stop there on any conflict), then the real import."""
        if format_id not in MEDIA_TYPES:
            raise ConfigError("GW-7503", f"cannot push format {format_id!r}")
        body = payload if isinstance(payload, bytes) else encode(payload, format_id)
        extra = {"dataSet": data_set} if data_set else None
        if self.config.dry_run_first:
            trial = self.post_data_values(body, format_id, dry_run=True, use_async=False, extra=extra)
            if not trial.ok:
                return trial
        return self.post_data_values(body, format_id, dry_run=False, use_async=self.config.use_async, extra=extra)

    def deliver(self, payload: bytes, media_type: str) -> ImportResult:
        """Outbox entry point: a rejected group is permanent (dead letter), partial success is delivered."""
        format_id = next((f for f, m in MEDIA_TYPES.items() if m == media_type.split(";")[0].strip()), None)
        if format_id is None:
            raise PermanentDeliveryError("GW-5256", f"no DHIS2 format for media type {media_type!r}")
        result = self.push(payload, format_id)
        if result.whole_group_failed:
            first = result.outcome.errors[0] if result.outcome.errors else None
            raise Dhis2Rejected(
                "GW-5252",
                f"DHIS2 rejected the data value set: "
                f"{first.message_id if first else ''} {first.message if first else ''}",
                status_code=result.http_status,
                operation_outcome=result.outcome.to_operation_outcome(),
            )
        return result


def merge_metadata(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Objects of ``new`` replace those of ``old`` with the same id; other objects of ``old`` stay."""
    out = dict(old)
    for key, objs in new.items():
        if not isinstance(objs, list):
            out[key] = objs
            continue
        by_id = {o.get("id"): o for o in old.get(key) or [] if isinstance(o, dict)}
        by_id.update({o.get("id"): o for o in objs if isinstance(o, dict)})
        out[key] = list(by_id.values())
    return out
