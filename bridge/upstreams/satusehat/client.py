"""HTTP client for SATUSEHAT: OAuth2 client credentials, FHIR REST, and every reply envelope.

* **Token**: ``POST {host}/oauth2/v1/accesstoken?grant_type=client_credentials`` with a form body
  ``client_id`` / ``client_secret`` (authlib builds the request and the :class:`OAuth2Token`; its
  httpx integration is not used because it is deprecated without the ``httpx2`` package). The token
  is cached in a cachetools ``TLRUCache`` until ``token_margin`` seconds before the ``expires_in``
  of *that* response (SATUSEHAT sends it as a string; 3599 in sandbox, 14399 seen in production).
  A reply ``invalid-access-token`` drops the cached token, fetches a new one and retries once.
* **Envelopes**: FHIR JSON, MPI's ``{success, data}`` and ``{create_patient: {success, data}}``,
  master data's ``{status_code, message, data}`` / ``{status, error, message, data}``, KYC's
  ``{metadata, data}`` and plain-text 5xx bodies (``Gateway Timeout``) are all parsed by
  :func:`parse_envelope`.
* **Errors**: timeouts, dropped connections, 429 and 5xx raise :class:`SatusehatUnavailable`
  (a :class:`~bridge.errors.TransientDeliveryError`, worth retrying); other 4xx raise
  :class:`SatusehatRejected` (a :class:`~bridge.errors.PermanentDeliveryError`) carrying the
  server's OperationOutcome.
* **Transport**: per-environment hosts (:data:`ENVIRONMENTS`), optional egress proxy (SATUSEHAT
  refuses non-Indonesian IPs), connect/read timeouts, and a client-side rate limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri, url_encode
from authlib.oauth2.rfc6749 import OAuth2Token
from cachetools import TLRUCache

from bridge.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError

ENVIRONMENTS: dict[str, str] = {
    "sandbox": "https://api-satusehat-stg.dto.kemkes.go.id",
    "staging": "https://api-satusehat-stg.dto.kemkes.go.id",
    "production": "https://api-satusehat.kemkes.go.id",
    "dev": "https://api-satusehat-dev.dto.kemkes.go.id",  # legacy, listed in older guides
}
FHIR_PATH = "/fhir-r4/v1"
AUTH_PATH = "/oauth2/v1"
INVALID_TOKEN = "invalid-access-token"


@dataclass(frozen=True)
class SatusehatConfig:
    """Credentials and transport settings of one SATUSEHAT destination.

    ``base_url`` overrides the environment's host (e.g. the simulator); ``auth_url`` overrides the
    OAuth base (``{host}/oauth2/v1``). ``rate_limit`` is requests per second (0 = unlimited).
    """

    client_id: str
    client_secret: str
    organization_id: str
    environment: str = "sandbox"
    base_url: str | None = None
    auth_url: str | None = None
    proxy: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0
    token_margin: float = 60.0
    rate_limit: float = 0.0

    def __post_init__(self) -> None:
        if not self.base_url and self.environment not in ENVIRONMENTS:
            raise ConfigError("GW-1630", f"unknown SATUSEHAT environment {self.environment!r}")
        for name in ("client_id", "client_secret", "organization_id"):
            if not getattr(self, name):
                raise ConfigError("GW-1631", f"SATUSEHAT destination needs {name}")

    @property
    def host(self) -> str:
        return (self.base_url or ENVIRONMENTS[self.environment]).rstrip("/")

    @property
    def fhir_base(self) -> str:
        host = self.host
        return host if host.endswith(FHIR_PATH) else host + FHIR_PATH

    @property
    def token_url(self) -> str:
        base = (self.auth_url or self.host.removesuffix(FHIR_PATH) + AUTH_PATH).rstrip("/")
        return base + "/accesstoken"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SatusehatConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Envelope:
    """A parsed reply: ``kind`` is ``fhir``, ``mpi``, ``masterdata``, ``kyc``, ``text`` or ``json``."""

    status: int
    kind: str
    data: Any
    raw: Any = None

    @property
    def resource_id(self) -> str | None:
        """The id the server assigned (FHIR ``id`` or MPI ``patient_id``)."""
        if self.kind == "mpi" and isinstance(self.data, Mapping):
            return self.data.get("patient_id")
        if isinstance(self.data, Mapping):
            return self.data.get("id")
        return None


class SatusehatUnavailable(TransientDeliveryError):
    """Worth retrying: timeout, dropped connection, 429, 5xx. ``retry_after`` in seconds when sent."""

    def __init__(self, code: str, message: str, *, status_code: int | None = None, retry_after: float | None = None):
        super().__init__(code, message)
        self.status_code = status_code
        self.retry_after = retry_after


class SatusehatRejected(PermanentDeliveryError):
    """A 4xx the server will answer the same way again; carries its OperationOutcome."""

    def __init__(self, code: str, message: str, *, status_code: int, operation_outcome: dict[str, Any]):
        super().__init__(code, message)
        self.status_code = status_code
        self.operation_outcome = operation_outcome


def parse_envelope(response: httpx.Response) -> Envelope:
    """Recognise every reply shape SATUSEHAT is known to send."""
    try:
        body = response.json()
    except ValueError:
        return Envelope(response.status_code, "text", response.text, response.text)
    if isinstance(body, Mapping):
        if "resourceType" in body:
            return Envelope(response.status_code, "fhir", body, body)
        if isinstance(body.get("create_patient"), Mapping):
            return Envelope(response.status_code, "mpi", body["create_patient"].get("data"), body)
        if "success" in body:
            return Envelope(response.status_code, "mpi", body.get("data"), body)
        if "status_code" in body or ("status" in body and "message" in body):
            return Envelope(response.status_code, "masterdata", body.get("data"), body)
        if isinstance(body.get("metadata"), Mapping):
            return Envelope(response.status_code, "kyc", body.get("data"), body)
    return Envelope(response.status_code, "json", body, body)


def as_operation_outcome(envelope: Envelope) -> dict[str, Any]:
    """The server's OperationOutcome, or one built from a non-FHIR error body."""
    if envelope.kind == "fhir" and isinstance(envelope.data, Mapping):
        if envelope.data.get("resourceType") == "OperationOutcome":
            return dict(envelope.data)
    text = _error_text(envelope)
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "processing", "details": {"text": text}}]}  # fmt: skip


def _error_text(envelope: Envelope) -> str:
    raw = envelope.raw
    if isinstance(raw, Mapping):
        meta = raw.get("metadata")
        if isinstance(meta, Mapping):
            return str(meta.get("message") or raw)
        return str(raw.get("message") or raw)
    return str(raw or f"HTTP {envelope.status}")[:1000]


def issue_codes(envelope: Envelope) -> list[str]:
    if envelope.kind != "fhir" or not isinstance(envelope.data, Mapping):
        return []
    return [str(i.get("code")) for i in envelope.data.get("issue") or [] if isinstance(i, Mapping)]


class RateLimiter:
    """At most ``rate`` calls per second, spaced evenly (thread-safe); 0 disables it."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            self.sleep(wait)


@dataclass
class _TokenHolder:
    token: OAuth2Token
    lifetime: float


def _time_to_use(margin: float) -> Callable[[Any, _TokenHolder, float], float]:
    def ttu(_key: Any, value: _TokenHolder, now: float) -> float:
        return now + max(value.lifetime - margin, 0.0)

    return ttu


@dataclass
class SatusehatClient:
    """One destination's client; safe to share between threads of one worker."""

    config: SatusehatConfig
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    token_fetches: int = 0
    _http: httpx.Client = field(init=False, repr=False)
    _cache: TLRUCache[str, _TokenHolder] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        timeout = httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout)
        self._http = httpx.Client(timeout=timeout, proxy=self.config.proxy, transport=self.transport)
        self._cache = TLRUCache(maxsize=4, ttu=_time_to_use(self.config.token_margin), timer=self.clock)
        self._lock = threading.Lock()
        self._limiter = RateLimiter(self.config.rate_limit, self.clock, self.sleep)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------------------------- token

    def access_token(self) -> str:
        """The cached token, fetched again once it is within ``token_margin`` of its expiry."""
        with self._lock:
            holder = self._cache.get(self.config.client_id)
            if holder is None:
                holder = self._fetch_token()
                self._cache[self.config.client_id] = holder
            return str(holder.token["access_token"])

    def invalidate_token(self) -> None:
        with self._lock:
            self._cache.pop(self.config.client_id, None)

    def _fetch_token(self) -> _TokenHolder:
        url = add_params_to_uri(self.config.token_url, [("grant_type", "client_credentials")])
        body = url_encode([("client_id", self.config.client_id), ("client_secret", self.config.client_secret)])
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        response = self._send(lambda: self._http.post(url, content=body, headers=headers))
        self.token_fetches += 1
        envelope = parse_envelope(response)
        if response.status_code >= 400 or not isinstance(envelope.raw, Mapping) or "access_token" not in envelope.raw:
            self._raise_for(envelope, "GW-5211", "SATUSEHAT refused the client credentials")
        data = dict(envelope.raw)
        lifetime = float(data.get("expires_in") or 0)
        return _TokenHolder(OAuth2Token.from_dict({**data, "token_type": "Bearer"}), lifetime)

    # ----------------------------------------------------------------------------------- requests

    def _send(self, call: Callable[[], httpx.Response]) -> httpx.Response:
        self._limiter.acquire()
        try:
            return call()
        except httpx.TimeoutException as exc:
            raise SatusehatUnavailable("GW-5101", f"SATUSEHAT timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise SatusehatUnavailable("GW-5102", f"connection to SATUSEHAT failed: {exc}") from exc

    def _raise_for(self, envelope: Envelope, code: str, what: str) -> None:
        status = envelope.status
        if status == 429 or status >= 500:
            text = _error_text(envelope)
            raise SatusehatUnavailable("GW-5103" if status == 429 else "GW-5104",
                                       f"{what}: HTTP {status} {text}", status_code=status)  # fmt: skip
        oo = as_operation_outcome(envelope)
        texts = "; ".join(str((i.get("details") or {}).get("text") or i.get("diagnostics") or i.get("code"))
                          for i in oo.get("issue") or [])  # fmt: skip
        raise SatusehatRejected(code, f"{what}: HTTP {status} {texts}", status_code=status, operation_outcome=oo)

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, str] | None = None,
                content_type: str = "application/fhir+json") -> Envelope:  # fmt: skip
        """One FHIR call; refreshes the token once on ``invalid-access-token``; raises on 4xx/5xx."""
        url = self.config.fhir_base + ("/" + path.lstrip("/") if path else "")
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token()}", "Accept": "application/fhir+json"}
            if json is not None:
                headers["Content-Type"] = content_type
            response = self._send(lambda: self._http.request(method, url, json=json, params=params, headers=headers))  # noqa: B023
            envelope = parse_envelope(response)
            if response.status_code == 401 and attempt == 1:
                self.invalidate_token()
                continue
            if response.status_code >= 400:
                self._raise_for(envelope, _rejection_code(envelope), f"{method} {path or '/'}")
            if response.status_code == 429 or response.status_code >= 500:
                self._raise_for(envelope, "GW-5104", f"{method} {path}")
            return envelope
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------------------ FHIR helpers

    def create(self, resource: Mapping[str, Any]) -> Envelope:
        return self.request("POST", str(resource["resourceType"]), json=resource)

    def update(self, resource: Mapping[str, Any]) -> Envelope:
        if not resource.get("id"):
            raise ConfigError("GW-1632", "an update needs the resource id")
        return self.request("PUT", f"{resource['resourceType']}/{resource['id']}", json=resource)

    def patch(self, resource_type: str, resource_id: str, operations: list[dict[str, Any]]) -> Envelope:
        """JSON Patch, e.g. ``[{"op": "replace", "path": "/period/start", "value": "…"}]``."""
        return self.request("PATCH", f"{resource_type}/{resource_id}", json=operations,
                            content_type="application/json-patch+json")  # fmt: skip

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"{resource_type}/{resource_id}").data)

    def search(self, resource_type: str, **params: str) -> list[dict[str, Any]]:
        bundle = self.request("GET", resource_type, params=params).data
        return [e["resource"] for e in bundle.get("entry") or [] if isinstance(e, Mapping) and e.get("resource")]

    def find_by_identifier(self, resource_type: str, system: str, value: str) -> str | None:
        """Server id of the resource with that identifier (e.g. a Patient's IHS number by NIK)."""
        found = self.search(resource_type, identifier=f"{system}|{value}")
        return str(found[0]["id"]) if found else None

    def transaction(self, bundle: Mapping[str, Any]) -> Envelope:
        return self.request("POST", "", json=bundle)


def _rejection_code(envelope: Envelope) -> str:
    codes = issue_codes(envelope)
    if "duplicate" in codes:
        return "GW-5202"
    if envelope.status == 401:
        return "GW-5203"
    return "GW-5201"
