"""HTTP client for BPJS Kesehatan VClaim and PCare (rujukan, referensi, PCare kunjungan).

* **Auth**: every request gets fresh ``X-cons-id`` / ``X-timestamp`` / ``X-signature`` /
  ``user_key`` headers (:func:`adapters.bpjs.crypto.make_headers`); the timestamp sent is kept to
  decrypt that request's answer. PCare also gets ``X-Authorization: Basic base64(user:pass:095)``.
* **Answers** go through :func:`adapters.bpjs.envelope.parse_envelope` (casing, code types,
  encryption, HTML pages). Code 200 returns ``response``; other codes raise :class:`BpjsRejected`
  (a :class:`~bridge.errors.PermanentDeliveryError`, GW-5241) with BPJS's code and message; HTTP
  401 raises :class:`BpjsRejected` GW-5242 naming signature, timestamp and user_key as suspects.
  Timeouts, connection errors, 429 and 5xx raise :class:`BpjsUnavailable` (GW-5141, transient).
  An HTML page with a 4xx status is a :class:`~bridge.errors.DecodeError` GW-1401 (usually a wrong
  service name in the base URL).
* **Clock skew**: each answer's ``Date`` header is compared with the local clock; beyond
  ``skew_warning`` seconds a warning is logged and kept in :attr:`BpjsClient.last_skew`, before
  BPJS starts refusing signatures.
* **Transport**: per-service base URLs for ``development`` and ``production``
  (:data:`BASE_URLS`, overridable), optional egress proxy (BPJS accepts whitelisted IPs only),
  connect/read timeouts (3 s / 8 s by default, as field reports recommend).
* **Dates**: VClaim paths use ``yyyy-MM-dd``, PCare ``dd-MM-yyyy``; pass ``datetime.date`` or an
  already formatted string.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters.bpjs.crypto import Credentials, make_headers, timestamp_now
from adapters.bpjs.envelope import Envelope, html_summary, is_html, parse_envelope
from bridge.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError

__all__ = ["BASE_URLS", "BpjsClient", "BpjsConfig", "BpjsRejected", "BpjsUnavailable"]

log = logging.getLogger(__name__)

_HOST_DEV = "https://apijkn-dev.bpjs-kesehatan.go.id"
_HOST_PROD = "https://apijkn.bpjs-kesehatan.go.id"
BASE_URLS: dict[str, dict[str, str]] = {
    "development": {"vclaim": f"{_HOST_DEV}/vclaim-rest-dev", "pcare": f"{_HOST_DEV}/pcare-rest-dev"},
    "production": {"vclaim": f"{_HOST_PROD}/vclaim-rest", "pcare": f"{_HOST_PROD}/pcare-rest"},
}
#: TrustMark documents this (invalid) content type for JSON bodies; BPJS production expects it.
FORM_CONTENT_TYPE = "Application/x-www-form-urlencoded"
#: PCare codes whose ``response`` is encrypted (200 OK, 201 CREATED, 412 field errors)
PCARE_ENCRYPTED = (200, 201, 412)


class BpjsRejected(PermanentDeliveryError):
    """BPJS answered, and said no. ``bpjs_code`` / ``bpjs_message`` / ``response`` as sent."""

    def __init__(self, code: str, message: str, *, bpjs_code: int, bpjs_message: str, response: Any = None) -> None:
        super().__init__(code, message)
        self.bpjs_code = bpjs_code
        self.bpjs_message = bpjs_message
        self.response = response


class BpjsUnavailable(TransientDeliveryError):
    """BPJS could not be reached or failed (timeouts, 429, 5xx): worth retrying later."""


@dataclass(frozen=True)
class BpjsConfig:
    """One facility's BPJS credentials and transport settings.

    ``user_keys`` maps service (``vclaim``, ``pcare``) to its ``user_key``; ``base_urls`` overrides
    :data:`BASE_URLS` per service (the simulator, or the vclaim-sisrute host).
    """

    cons_id: str
    secret: str
    user_keys: Mapping[str, str] = field(default_factory=dict)
    environment: str = "development"
    base_urls: Mapping[str, str] = field(default_factory=dict)
    proxy: str | None = None
    timeout: float = 8.0
    connect_timeout: float = 3.0
    skew_warning: float = 60.0
    pcare_username: str = ""
    pcare_password: str = ""
    pcare_app_code: str = "095"
    content_type: str = FORM_CONTENT_TYPE

    def __post_init__(self) -> None:
        if self.environment not in BASE_URLS:
            raise ConfigError("GW-7401", f"unknown BPJS environment {self.environment!r} (development|production)")
        if not self.cons_id or not self.secret:
            raise ConfigError("GW-7402", "BPJS needs cons_id and secret")

    def base_url(self, service: str) -> str:
        url = self.base_urls.get(service) or BASE_URLS[self.environment].get(service)
        if not url:
            raise ConfigError("GW-7403", f"no BPJS base URL for service {service!r}")
        return url.rstrip("/")

    def credentials(self, service: str) -> Credentials:
        return Credentials(self.cons_id, self.secret, self.user_keys.get(service, ""))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BpjsConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError("GW-7404", f"unknown BPJS settings: {', '.join(unknown)}")
        missing = [name for name in ("cons_id", "secret") if not data.get(name)]
        if missing:
            raise ConfigError("GW-7402", f"BPJS settings (UPSTREAMS.bpjs) lack {', '.join(missing)}")
        return cls(**dict(data))


def vclaim_date(value: dt.date | str) -> str:
    return value.isoformat() if isinstance(value, dt.date) else value


def pcare_date(value: dt.date | str) -> str:
    return value.strftime("%d-%m-%Y") if isinstance(value, dt.date) else value


class BpjsClient:
    """All rujukan-related VClaim operations and the PCare kunjungan calls; see the module docstring."""

    def __init__(
        self,
        config: BpjsConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.last_skew: float | None = None
        timeout = httpx.Timeout(config.timeout, connect=config.connect_timeout)
        self._http = httpx.Client(timeout=timeout, transport=transport, proxy=None if transport else config.proxy)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BpjsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def _headers(self, service: str, timestamp: str, has_body: bool) -> dict[str, str]:
        headers = make_headers(self.config.credentials(service), timestamp)
        if service == "pcare" and self.config.pcare_username:
            login = f"{self.config.pcare_username}:{self.config.pcare_password}:{self.config.pcare_app_code}"
            headers["X-Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        if has_body:
            headers["Content-Type"] = self.config.content_type
        headers["Accept"] = "application/json"
        return headers

    def call(self, service: str, method: str, path: str, body: Any = None) -> Envelope:
        """One signed call; returns the decoded envelope whatever its code (see :meth:`request`)."""
        timestamp = timestamp_now(self.clock)
        content = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        url = f"{self.config.base_url(service)}/{path.lstrip('/')}"
        try:
            reply = self._http.request(
                method, url, content=content, headers=self._headers(service, timestamp, bool(content))
            )
        except httpx.TimeoutException as exc:
            raise BpjsUnavailable("GW-5141", f"BPJS {service} timed out: {method} {path}") from exc
        except httpx.TransportError as exc:
            raise BpjsUnavailable("GW-5142", f"BPJS {service} unreachable ({type(exc).__name__}): {exc}") from exc
        self._check_skew(reply)
        return self._decode(service, reply, timestamp)

    def request(self, service: str, method: str, path: str, body: Any = None) -> Any:
        """Like :meth:`call` but returns ``response`` of a code-200 answer and raises otherwise."""
        env = self.call(service, method, path, body)
        if env.code != 200 and not (service == "pcare" and env.code == 201):
            raise BpjsRejected(
                "GW-5241",
                f"BPJS {service} {env.code}: {env.message or '(no message)'}",
                bpjs_code=env.code,
                bpjs_message=env.message,
                response=env.response,
            )
        return env.response

    def _decode(self, service: str, reply: httpx.Response, timestamp: str) -> Envelope:
        ctype = reply.headers.get("content-type")
        if reply.status_code == 429 or reply.status_code >= 500:
            detail = html_summary(reply.content) if is_html(reply.content, ctype) else reply.text[:200]
            raise BpjsUnavailable("GW-5143", f"BPJS {service} HTTP {reply.status_code}: {detail}")
        env = parse_envelope(
            reply.content,
            content_type=ctype,
            credentials=self.config.credentials(service),
            timestamp=timestamp,
            decrypt_codes=PCARE_ENCRYPTED if service == "pcare" else (200,),
        )
        if reply.status_code == 401 or env.code == 401:
            skew = f"; measured clock skew {self.last_skew:+.0f} s" if self.last_skew is not None else ""
            raise BpjsRejected(
                "GW-5242",
                f"BPJS {service} refused the credentials: {env.message} "
                f"(check cons_id/secret, the UTC clock and the {service} user_key{skew})",
                bpjs_code=env.code,
                bpjs_message=env.message,
            )
        return env

    def _check_skew(self, reply: httpx.Response) -> None:
        date = reply.headers.get("date")
        if not date:
            return
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        self.last_skew = self.clock() - server
        if abs(self.last_skew) > self.config.skew_warning:
            log.warning(
                "local clock differs from BPJS by %+.0f s (limit %.0f s): signatures will soon be refused; "
                "synchronise the clock (NTP)",
                self.last_skew,
                self.config.skew_warning,
            )

    def _vclaim(self, method: str, path: str, body: Any = None) -> Any:
        return self.request("vclaim", method, path, body)

    # ------------------------------------------------------------ VClaim rujukan lookups

    def rujukan(self, no_rujukan: str) -> Any:
        """Referral issued by an FKTP (PCare), by number."""
        return self._vclaim("GET", f"Rujukan/{no_rujukan}")

    def rujukan_rs(self, no_rujukan: str) -> Any:
        return self._vclaim("GET", f"Rujukan/RS/{no_rujukan}")

    def rujukan_by_card(self, no_kartu: str, *, rs: bool = False) -> Any:
        return self._vclaim("GET", f"Rujukan/{'RS/' if rs else ''}Peserta/{no_kartu}")

    def rujukan_list_by_card(self, no_kartu: str, *, rs: bool = False) -> Any:
        return self._vclaim("GET", f"Rujukan/{'RS/' if rs else ''}List/Peserta/{no_kartu}")

    def rujukan_keluar_list(self, start: dt.date | str, end: dt.date | str) -> Any:
        return self._vclaim("GET", f"Rujukan/Keluar/List/tglMulai/{vclaim_date(start)}/tglAkhir/{vclaim_date(end)}")

    def rujukan_keluar(self, no_rujukan: str) -> Any:
        return self._vclaim("GET", f"Rujukan/Keluar/{no_rujukan}")

    def jumlah_sep(self, no_rujukan: str, *, asal: int = 1) -> Any:
        """How many SEPs a referral already has (asal 1 = FKTP, 2 = FKRTL): 0 means a first visit."""
        return self._vclaim("GET", f"Rujukan/JumlahSEP/{asal}/{no_rujukan}")

    def list_spesialistik(self, ppk: str, tgl_rujukan: dt.date | str) -> Any:
        return self._vclaim("GET", f"Rujukan/ListSpesialistik/PPKRujukan/{ppk}/TglRujukan/{vclaim_date(tgl_rujukan)}")

    def list_sarana(self, ppk: str) -> Any:
        return self._vclaim("GET", f"Rujukan/ListSarana/PPKRujukan/{ppk}")

    def rujukan_khusus_list(self, month: int, year: int) -> Any:
        return self._vclaim("GET", f"Rujukan/Khusus/List/Bulan/{month}/Tahun/{year}")

    # ------------------------------------------------------------ VClaim rujukan changes

    def insert_rujukan(self, t_rujukan: Mapping[str, Any]) -> Any:
        """Rujukan 2.0 insert; ``t_rujukan`` as in the ``bpjs.vclaim.rujukan-insert`` format."""
        return self._vclaim("POST", "Rujukan/2.0/insert", {"request": {"t_rujukan": dict(t_rujukan)}})

    def update_rujukan(self, t_rujukan: Mapping[str, Any]) -> Any:
        return self._vclaim("PUT", "Rujukan/2.0/Update", {"request": {"t_rujukan": dict(t_rujukan)}})

    def delete_rujukan(self, no_rujukan: str, user: str) -> Any:
        body = {"request": {"t_rujukan": {"noRujukan": no_rujukan, "user": user}}}
        return self._vclaim("DELETE", "Rujukan/delete", body)

    def insert_rujukan_khusus(self, no_rujukan: str, diagnosa: list[str], procedure: list[str], user: str) -> Any:
        """``diagnosa`` codes prefixed ``P;`` (primary) or ``S;`` (secondary), e.g. ``["P;N18.5"]``."""
        body = {
            "noRujukan": no_rujukan,
            "diagnosa": [{"kode": d} for d in diagnosa],
            "procedure": [{"kode": p} for p in procedure],
            "user": user,
        }
        return self._vclaim("POST", "Rujukan/Khusus/insert", body)

    def insert_prb(self, t_prb: Mapping[str, Any]) -> Any:
        return self._vclaim("POST", "PRB/insert", {"request": {"t_prb": dict(t_prb)}})

    # ------------------------------------------------------------ VClaim referensi

    def referensi_diagnosa(self, query: str) -> Any:
        return self._vclaim("GET", f"referensi/diagnosa/{query}")

    def referensi_poli(self, query: str) -> Any:
        return self._vclaim("GET", f"referensi/poli/{query}")

    def referensi_faskes(self, query: str, jenis: int = 2) -> Any:
        """jenis 1 = Faskes 1 (FKTP), 2 = Faskes 2 (RS)."""
        return self._vclaim("GET", f"referensi/faskes/{query}/{jenis}")

    def referensi_dokter(self, jenis_pelayanan: int, tanggal: dt.date | str, spesialis: str) -> Any:
        path = f"referensi/dokter/pelayanan/{jenis_pelayanan}/tglPelayanan/{vclaim_date(tanggal)}/Spesialis/{spesialis}"
        return self._vclaim("GET", path)

    def referensi_propinsi(self) -> Any:
        return self._vclaim("GET", "referensi/propinsi")

    def referensi_kabupaten(self, kode_propinsi: str) -> Any:
        return self._vclaim("GET", f"referensi/kabupaten/propinsi/{kode_propinsi}")

    def referensi_kecamatan(self, kode_kabupaten: str) -> Any:
        return self._vclaim("GET", f"referensi/kecamatan/kabupaten/{kode_kabupaten}")

    def referensi_diagnosa_prb(self) -> Any:
        return self._vclaim("GET", "referensi/diagnosaprb")

    # ------------------------------------------------------------ PCare

    def pcare_rujukan(self, no_kunjungan: str) -> Any:
        return self.request("pcare", "GET", f"kunjungan/rujukan/{no_kunjungan}")

    def pcare_insert_kunjungan(self, kunjungan: Mapping[str, Any]) -> Any:
        """POST kunjungan (dates dd-MM-yyyy); BPJS answers 201 with ``{"field": "noKunjungan", "message": no}``."""
        return self.request("pcare", "POST", "kunjungan", dict(kunjungan))
