"""Strict in-process simulator of BPJS Kesehatan VClaim (``/vclaim-rest``) and PCare (``/pcare-rest``).

Built from the documented behaviour (bpjs.md §1–§4, §6):

* **Auth** on every call: ``X-cons-id`` must be known, ``X-timestamp`` UTC epoch seconds within
  ``MAX_SKEW`` seconds of the simulator's clock, ``X-signature`` = base64 HMAC-SHA256 of
  ``consId&timestamp`` with the consumer secret, ``user_key`` of *that* service; PCare also
  needs ``X-Authorization: Basic base64(user:password:095)``. Failures answer HTTP 401 with a
  BPJS envelope (code ``401``). A cons-id not registered for a service gets BPJS's own message
  ``Unauthorized! You are not registered for this service!``; an expired cons-id gets 404
  ``Transaksi tidak dapat diproses. Silakan coba lagi nanti.``
* **Answers** are envelopes exactly as BPJS sends them: VClaim ``metaData`` with a string code,
  PCare ``metaData`` with a numeric code; a successful ``response`` is LZ-string compressed and
  AES-256-CBC encrypted with SHA-256(consId+secret+X-timestamp). Business errors answer code
  ``201`` (VClaim) or ``412`` (PCare validation) with ``response: null`` / the field list.
* **State**: referrals created with Rujukan 2.0 insert (and PCare kunjungan with ``rujukLanjut``)
  are kept and can be read back, updated and deleted; seed members, SEPs and referrals come from
  ``SEED`` (see :func:`default_seed`).
* **Documented error cases**: unknown card (``Peserta tidak ditemukan``), referral older than
  90 days (``Rujukan sudah tidak berlaku``), unknown SEP / PPK / poli, rujuk-balik with a poli,
  Rujukan Khusus on a non-HD referral (``Nomor rujukan Poli Terakhir Bukan Hemodialisa``), and any
  unknown path answers an IIS-style **HTML 404 page**.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, request

from adapters.base import MapContext
from adapters.bpjs.crypto import Credentials, encrypt_response, signature
from adapters.bpjs.models import BpjsPayload, normalise
from adapters.bpjs.rules import BpjsProfileValidator

__all__ = ["create_app", "default_seed"]

DEFAULTS: dict[str, Any] = {
    "CONSUMERS": {"1000": {"secret": "sim-secret", "services": ["vclaim", "pcare"], "ppk": "0301R001"}},
    "EXPIRED_CONSUMERS": [],
    "USER_KEYS": {"vclaim": "uk-vclaim", "pcare": "uk-pcare"},
    "PCARE_LOGIN": {"username": "pcare-user", "password": "pcare-pass", "app_code": "095"},
    "MAX_SKEW": 300,
    "ENCRYPT": True,
    "REFERRAL_VALIDITY_DAYS": 90,
}
_PROFILE = BpjsProfileValidator()
HTML_404 = (
    "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body>"
    "<div id='header'><h1>Server Error</h1></div><h2>404 - File or directory not found.</h2>"
    "<h3>The resource you are looking for might have been removed, had its name changed, or is temporarily "
    "unavailable.</h3></body></html>"
)


class Reject(Exception):
    """A BPJS business answer other than success (code + message, optional response)."""

    def __init__(self, code: int, message: str, response: Any = None, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.response, self.status = code, message, response, status


@dataclass
class State:
    members: dict[str, dict[str, Any]]
    referrals: dict[str, dict[str, Any]]
    outgoing: dict[str, dict[str, Any]]
    seps: dict[str, dict[str, Any]]
    kunjungan: dict[str, dict[str, Any]] = field(default_factory=dict)
    khusus: dict[str, dict[str, Any]] = field(default_factory=dict)
    prb: dict[str, dict[str, Any]] = field(default_factory=dict)
    reference: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def _peserta(no: str, nama: str, sex: str, lahir: str, nik: str, mr: str) -> dict[str, Any]:
    return {
        "cob": {"nmAsuransi": None, "noAsuransi": None, "tglTAT": None, "tglTMT": None},
        "hakKelas": {"kode": "3", "keterangan": "KELAS III"},
        "informasi": {"dinsos": None, "noSKTM": None, "prolanisPRB": None, "eSEP": None},
        "jenisPeserta": {"kode": "21", "keterangan": "PBI (APBN)"},
        "mr": {"noMR": mr, "noTelepon": "081234567890"},
        "nama": nama,
        "nik": nik,
        "noKartu": no,
        "pisa": "1",
        "provUmum": {"kdProvider": "03050301", "nmProvider": "PUSKESMAS KEPANJEN"},
        "sex": sex,
        "statusPeserta": {"kode": "0", "keterangan": "AKTIF"},
        "tglCetakKartu": "2019-03-11",
        "tglLahir": lahir,
        "tglTAT": "2030-12-31",
        "tglTMT": "2014-01-01",
        "umur": {"umurSaatPelayanan": "", "umurSekarang": ""},
    }


def default_seed(today: dt.date) -> dict[str, Any]:
    """Two members, a valid and an expired FKTP referral, one SEP and small reference lists."""
    siti = _peserta("0001234567890", "SITI AMINAH", "P", "1980-01-05", "3507014501800001", "123456")
    budi = _peserta("0009876543210", "BUDI SANTOSO", "L", "1975-06-30", "3507013006750002", "654321")

    def referral(number: str, days_ago: int, peserta: dict[str, Any], poli: tuple[str, str]) -> dict[str, Any]:
        return {
            "noKunjungan": number,
            "tglKunjungan": (today - dt.timedelta(days=days_ago)).isoformat(),
            "keluhan": "nyeri dada kiri",
            "diagnosa": {"kode": "I20.9", "nama": "Angina pectoris, unspecified"},
            "pelayanan": {"kode": "2", "nama": "Rawat Jalan"},
            "poliRujukan": {"kode": poli[0], "nama": poli[1]},
            "provPerujuk": {"kode": "03050301", "nama": "PUSKESMAS KEPANJEN"},
            "peserta": peserta,
        }

    return {
        "members": {p["noKartu"]: p for p in (siti, budi)},
        "referrals": {
            "030107010217Y001465": referral("030107010217Y001465", 10, siti, ("JAN", "JANTUNG")),
            "030107010217Y000001": referral("030107010217Y000001", 120, budi, ("INT", "PENYAKIT DALAM")),
            "030107010217Y000777": referral("030107010217Y000777", 5, budi, ("HDL", "HEMODIALISA")),
        },
        "seps": {
            "0301R0011126V000003": {
                "noKartu": "0001234567890",
                "ppk": "0301R001",
                "noRujukan": "030107010217Y001465",
                "tglSep": (today - dt.timedelta(days=1)).isoformat(),
            },
        },
        "reference": {
            "diagnosa": [
                {"kode": "I20.9", "nama": "I20.9 - Angina pectoris, unspecified"},
                {"kode": "N18.5", "nama": "N18.5 - Chronic kidney disease, stage 5"},
                {"kode": "A09", "nama": "A09 - Diarrhoea and gastroenteritis of presumed infectious origin"},
            ],
            "poli": [
                {"kode": "INT", "nama": "PENYAKIT DALAM"},
                {"kode": "JAN", "nama": "JANTUNG DAN PEMBULUH DARAH"},
                {"kode": "SAR", "nama": "SARAF"},
                {"kode": "HDL", "nama": "HEMODIALISA"},
            ],
            "faskes1": [{"kode": "03050301", "nama": "PUSKESMAS KEPANJEN"}],
            "faskes2": [
                {"kode": "0301R001", "nama": "RSUD KANJURUHAN"},
                {"kode": "0301R002", "nama": "RS SAIFUL ANWAR"},
            ],
            "dokter": [{"kode": "31486", "nama": "dr. Ani Wijaya, Sp.JP"}],
            "propinsi": [{"kode": "15", "nama": "JAWA TIMUR"}],
            "kabupaten": [{"kode": "0227", "nama": "KAB. MALANG"}],
            "kecamatan": [{"kode": "3139", "nama": "KEPANJEN"}],
            "diagnosaprb": [
                {"kode": "01", "nama": "Diabetes Mellitus"},
                {"kode": "02", "nama": "Hypertensi"},
                {"kode": "04", "nama": "Penyakit Jantung"},
            ],
            "spesialistik": [
                {
                    "kodeSpesialis": "JAN",
                    "namaSpesialis": "JANTUNG DAN PEMBULUH DARAH",
                    "kapasitas": "40",
                    "jumlahRujukan": "12",
                    "persentase": "30.00",
                }
            ],
            "sarana": [
                {"kodeSarana": "1", "namaSarana": "Rekam Medik"},
                {"kodeSarana": "2", "namaSarana": "Laboratorium"},
            ],
        },
    }


# ------------------------------------------------------------------ auth and envelopes


def _service() -> str:
    return "pcare" if request.path.startswith("/pcare-rest") else "vclaim"


def _unauthorized(message: str) -> Reject:
    return Reject(401, message, None, status=401)


def _check_auth(app: Flask) -> Credentials:
    cfg, headers = app.config, request.headers
    cons_id, ts, sig = headers.get("X-cons-id"), headers.get("X-timestamp"), headers.get("X-signature")
    if not (cons_id and ts and sig):
        raise _unauthorized("Unauthorized! X-cons-id, X-timestamp and X-signature are required")
    if cons_id in cfg["EXPIRED_CONSUMERS"]:
        raise Reject(404, "Transaksi tidak dapat diproses. Silakan coba lagi nanti.", status=404)
    consumer = cfg["CONSUMERS"].get(cons_id)
    if consumer is None:
        raise _unauthorized("Unauthorized! Consumer ID tidak terdaftar")
    if not ts.isdigit() or abs(int(ts) - int(cfg["CLOCK"]())) > cfg["MAX_SKEW"]:
        raise _unauthorized(f"Unauthorized! X-timestamp {ts!r} is outside the allowed skew of {cfg['MAX_SKEW']} s")
    if not hmac.compare_digest(sig, signature(cons_id, consumer["secret"], ts)):
        raise _unauthorized("Unauthorized! Signature tidak valid")
    service = _service()
    if service not in consumer["services"]:
        raise _unauthorized("Unauthorized! You are not registered for this service!")
    if headers.get("user_key") != cfg["USER_KEYS"][service]:
        raise _unauthorized(f"Unauthorized! user_key tidak valid untuk layanan {service}")
    if service == "pcare":
        _check_pcare_login(cfg["PCARE_LOGIN"])
    return Credentials(cons_id, consumer["secret"])


def _check_pcare_login(login: dict[str, str]) -> None:
    raw = request.headers.get("X-Authorization", "")
    expected = f"{login['username']}:{login['password']}:{login['app_code']}"
    try:
        given = base64.b64decode(raw.removeprefix("Basic ").strip(), validate=True).decode()
    except ValueError:
        given = ""
    if not hmac.compare_digest(given, expected):
        raise _unauthorized("Unauthorized! X-Authorization (username:password:095) tidak valid")


def _envelope(code: int, message: str, response: Any, status: int = 200) -> Response:
    pcare = _service() == "pcare"
    creds: Credentials | None = g.get("bpjs_creds")
    body: Any = response
    if response is not None and creds is not None and current_config()["ENCRYPT"] and code in (200, 201, 412):
        body = encrypt_response(json.dumps(response, ensure_ascii=False), creds, request.headers["X-timestamp"])
    meta = {"code": code if pcare else str(code), "message": message}
    return Response(json.dumps({"metaData": meta, "response": body}), status=status, mimetype="application/json")


def current_config() -> dict[str, Any]:
    from flask import current_app

    return current_app.config  # type: ignore[return-value]


def _state() -> State:
    from flask import current_app

    return current_app.extensions["bpjs_simulator"]  # type: ignore[no-any-return]


def _today() -> dt.date:
    return dt.datetime.fromtimestamp(current_config()["CLOCK"](), dt.UTC).date()


def _body() -> Any:
    try:
        return normalise(json.loads(request.get_data(as_text=True) or "null"))
    except ValueError:
        raise Reject(201, "Format request tidak valid (JSON)") from None


def _vclaim_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
    except ValueError:
        return _bad_date(value)


def _bad_date(value: str) -> dt.date:
    raise Reject(201, f"Format tanggal {value!r} salah, gunakan yyyy-MM-dd")


def _validate(kind: str, data: Any, pcare: bool = False) -> None:
    outcome = _PROFILE.validate(BpjsPayload(kind, data), MapContext())
    if outcome.ok:
        return
    if pcare:
        raise Reject(
            412,
            "PRECONDITION_FAILED",
            [{"field": i.location[0] if i.location else "", "message": i.message} for i in outcome.errors],
        )
    raise Reject(201, outcome.errors[0].message)


# ------------------------------------------------------------------ VClaim: rujukan lookups


def _fktp(number: str, check_validity: bool = True) -> dict[str, Any]:
    found = _state().referrals.get(number)
    if found is None:
        raise Reject(201, "Data rujukan tidak ditemukan")
    age = (_today() - dt.date.fromisoformat(found["tglKunjungan"])).days
    if check_validity and age > current_config()["REFERRAL_VALIDITY_DAYS"]:
        raise Reject(201, f"Rujukan sudah tidak berlaku (lebih dari {current_config()['REFERRAL_VALIDITY_DAYS']} hari)")
    return found


def _as_rs_rujukan(out: dict[str, Any]) -> dict[str, Any]:
    """An outgoing RS referral in the lookup shape (``Rujukan/RS/...``)."""
    state = _state()
    member = state.members[out["noKartu"]]
    poli = next((p for p in state.reference["poli"] if p["kode"] == out["poliRujukan"]), {"kode": "", "nama": ""})
    return {
        "noKunjungan": out["noRujukan"],
        "tglKunjungan": out["tglRujukan"],
        "keluhan": out["catatan"],
        "diagnosa": {"kode": out["diagRujukan"], "nama": _name("diagnosa", out["diagRujukan"])},
        "pelayanan": {
            "kode": out["jnsPelayanan"],
            "nama": "Rawat Inap" if out["jnsPelayanan"] == "1" else "Rawat Jalan",
        },
        "poliRujukan": dict(poli),
        "provPerujuk": {"kode": out["ppkAsal"], "nama": _name("faskes2", out["ppkAsal"])},
        "peserta": member,
    }


def _name(ref: str, kode: str) -> str:
    return next((r["nama"] for r in _state().reference.get(ref, []) if r["kode"] == kode), "")


def _rs(number: str) -> dict[str, Any]:
    out = _state().outgoing.get(number)
    if out is None:
        raise Reject(201, "Data rujukan tidak ditemukan")
    return _as_rs_rujukan(out)


def _by_card(card: str, rs: bool) -> list[dict[str, Any]]:
    state = _state()
    if card not in state.members:
        raise Reject(201, "Peserta tidak ditemukan")
    if rs:
        found = [_as_rs_rujukan(o) for o in state.outgoing.values() if o["noKartu"] == card]
    else:
        limit = current_config()["REFERRAL_VALIDITY_DAYS"]
        found = [
            r
            for r in state.referrals.values()
            if r["peserta"]["noKartu"] == card and (_today() - dt.date.fromisoformat(r["tglKunjungan"])).days <= limit
        ]
    if not found:
        raise Reject(201, "Tidak ada rujukan yang berlaku untuk peserta ini")
    return sorted(found, key=lambda r: r["tglKunjungan"], reverse=True)


def _ok(response: Any, message: str = "OK") -> Response:
    return _envelope(200, message, response)


def _register_lookups(vc: Any) -> None:
    vc.add_url_rule("/Rujukan/<number>", view_func=lambda number: _ok({"rujukan": _fktp(number)}))
    vc.add_url_rule("/Rujukan/RS/<number>", endpoint="rs", view_func=lambda number: _ok({"rujukan": _rs(number)}))
    vc.add_url_rule(
        "/Rujukan/Peserta/<card>", endpoint="card", view_func=lambda card: _ok({"rujukan": _by_card(card, False)[0]})
    )
    vc.add_url_rule(
        "/Rujukan/RS/Peserta/<card>",
        endpoint="rs_card",
        view_func=lambda card: _ok({"rujukan": _by_card(card, True)[0]}),
    )
    vc.add_url_rule(
        "/Rujukan/List/Peserta/<card>", endpoint="list", view_func=lambda card: _ok({"rujukan": _by_card(card, False)})
    )
    vc.add_url_rule(
        "/Rujukan/RS/List/Peserta/<card>",
        endpoint="rs_list",
        view_func=lambda card: _ok({"rujukan": _by_card(card, True)}),
    )
    vc.add_url_rule("/Rujukan/Keluar/List/tglMulai/<start>/tglAkhir/<end>", view_func=_keluar_list)
    vc.add_url_rule("/Rujukan/Keluar/<number>", view_func=_keluar)
    vc.add_url_rule("/Rujukan/JumlahSEP/<jenis>/<number>", view_func=_jumlah_sep)
    vc.add_url_rule("/Rujukan/ListSpesialistik/PPKRujukan/<ppk>/TglRujukan/<date>", view_func=_spesialistik)
    vc.add_url_rule("/Rujukan/ListSarana/PPKRujukan/<ppk>", view_func=_sarana)
    vc.add_url_rule("/Rujukan/Khusus/List/Bulan/<int:month>/Tahun/<int:year>", view_func=_khusus_list)


def _keluar_list(start: str, end: str) -> Response:
    first, last = _vclaim_date(start), _vclaim_date(end)
    rows = [
        {
            k: o[k]
            for k in (
                "noRujukan",
                "tglRujukan",
                "jnsPelayanan",
                "noSep",
                "noKartu",
                "nama",
                "ppkDirujuk",
                "namaPpkDirujuk",
            )
        }
        for o in _state().outgoing.values()
        if first <= dt.date.fromisoformat(o["tglRujukan"]) <= last
    ]
    if not rows:
        raise Reject(201, "Data tidak ditemukan")
    return _ok({"list": rows})


def _keluar(number: str) -> Response:
    out = _state().outgoing.get(number)
    if out is None:
        raise Reject(201, "Data rujukan tidak ditemukan")
    keys = (
        "noRujukan",
        "noSep",
        "noKartu",
        "nama",
        "kelasRawat",
        "kelamin",
        "tglLahir",
        "tglSep",
        "tglRujukan",
        "tglRencanaKunjungan",
        "ppkDirujuk",
        "namaPpkDirujuk",
        "jnsPelayanan",
        "catatan",
        "diagRujukan",
        "namaDiagRujukan",
        "tipeRujukan",
        "namaTipeRujukan",
        "poliRujukan",
        "namaPoliRujukan",
    )
    return _ok({"rujukan": {k: out[k] for k in keys}})


def _jumlah_sep(jenis: str, number: str) -> Response:
    if jenis not in ("1", "2"):
        raise Reject(201, "Jenis rujukan harus 1 (FKTP) atau 2 (FKRTL)")
    count = sum(1 for sep in _state().seps.values() if sep.get("noRujukan") == number)
    return _ok({"jumlahSEP": str(count)})


def _known_ppk(ppk: str) -> bool:
    ref = _state().reference
    return any(f["kode"] == ppk for f in ref["faskes1"] + ref["faskes2"])


def _spesialistik(ppk: str, date: str) -> Response:
    _vclaim_date(date)
    if not _known_ppk(ppk):
        raise Reject(201, "PPK rujukan tidak ditemukan")
    return _ok({"list": _state().reference["spesialistik"]})


def _sarana(ppk: str) -> Response:
    if not _known_ppk(ppk):
        raise Reject(201, "PPK rujukan tidak ditemukan")
    return _ok({"list": _state().reference["sarana"]})


def _khusus_list(month: int, year: int) -> Response:
    if not 1 <= month <= 12:
        raise Reject(201, "Bulan harus 1 sampai 12")
    rows = [k for k in _state().khusus.values() if k["tglrujukan_awal"].startswith(f"{year:04d}-{month:02d}")]
    return _ok({"rujukan": rows})


# ------------------------------------------------------------------ VClaim: rujukan changes


def _t_rujukan(kind: str) -> dict[str, Any]:
    body = _body()
    _validate(kind, body)
    return body["request"]["t_rujukan"]  # type: ignore[no-any-return]


def _check_target(t: dict[str, Any]) -> None:
    if not _known_ppk(t["ppkDirujuk"]):
        raise Reject(201, f"PPK dirujuk {t['ppkDirujuk']} tidak ditemukan")
    if t["poliRujukan"] and not any(p["kode"] == t["poliRujukan"] for p in _state().reference["poli"]):
        raise Reject(201, f"Poli rujukan {t['poliRujukan']} tidak ditemukan")


def _insert() -> Response:
    t = _t_rujukan("vclaim-rujukan-insert")
    state = _state()
    sep = state.seps.get(t["noSep"])
    if sep is None:
        raise Reject(201, "No.SEP tidak ditemukan")
    if sep["ppk"] != g.bpjs_ppk:
        raise Reject(201, "No.SEP bukan milik PPK anda")
    _check_target(t)
    member = state.members[sep["noKartu"]]
    start = dt.date.fromisoformat(t["tglRujukan"])
    with state.lock:
        number = f"{sep['ppk']}{start:%m%y}B{state.next_seq():06d}"
        out = _outgoing(t, number, sep, member)
        state.outgoing[number] = out
    return _ok({"rujukan": _insert_answer(out, member)})


def _outgoing(t: dict[str, Any], number: str, sep: dict[str, Any], member: dict[str, Any]) -> dict[str, Any]:
    validity = dt.timedelta(days=current_config()["REFERRAL_VALIDITY_DAYS"])
    tipe = {"0": "Rujukan Penuh", "1": "Rujukan Partial", "2": "Rujuk Balik (Non PRB)"}[t["tipeRujukan"]]
    return {
        **t,
        "noRujukan": number,
        "noKartu": member["noKartu"],
        "nama": member["nama"],
        "ppkAsal": sep["ppk"],
        "kelasRawat": member["hakKelas"]["kode"],
        "kelamin": member["sex"],
        "tglLahir": member["tglLahir"],
        "tglSep": sep["tglSep"],
        "namaPpkDirujuk": _name("faskes2", t["ppkDirujuk"]) or _name("faskes1", t["ppkDirujuk"]),
        "namaDiagRujukan": _name("diagnosa", t["diagRujukan"]),
        "namaTipeRujukan": tipe,
        "namaPoliRujukan": _name("poli", t["poliRujukan"]),
        "tglBerlakuKunjungan": (dt.date.fromisoformat(t["tglRujukan"]) + validity).isoformat(),
    }


def _insert_answer(out: dict[str, Any], member: dict[str, Any]) -> dict[str, Any]:
    return {
        "AsalRujukan": {"kode": out["ppkAsal"], "nama": _name("faskes2", out["ppkAsal"])},
        "diagnosa": {"kode": out["diagRujukan"], "nama": out["namaDiagRujukan"]},
        "noRujukan": out["noRujukan"],
        "peserta": {
            "asuransi": None,
            "hakKelas": member["hakKelas"]["keterangan"],
            "jnsPeserta": member["jenisPeserta"]["keterangan"],
            "kelamin": member["sex"],
            "nama": member["nama"],
            "noKartu": member["noKartu"],
            "noMr": member["mr"]["noMR"],
            "tglLahir": member["tglLahir"],
        },
        "poliTujuan": {"kode": out["poliRujukan"], "nama": out["namaPoliRujukan"]},
        "tglBerlakuKunjungan": out["tglBerlakuKunjungan"],
        "tglRencanaKunjungan": out["tglRencanaKunjungan"],
        "tglRujukan": out["tglRujukan"],
        "tujuanRujukan": {"kode": out["ppkDirujuk"], "nama": out["namaPpkDirujuk"]},
    }


def _update() -> Response:
    t = _t_rujukan("vclaim-rujukan-update")
    state = _state()
    out = state.outgoing.get(t["noRujukan"])
    if out is None or out["ppkAsal"] != g.bpjs_ppk:
        raise Reject(201, "Data rujukan tidak ditemukan")
    _check_target(t)
    with state.lock:
        out.update(t)
        out.update(
            namaPpkDirujuk=_name("faskes2", t["ppkDirujuk"]) or _name("faskes1", t["ppkDirujuk"]),
            namaPoliRujukan=_name("poli", t["poliRujukan"]),
            namaDiagRujukan=_name("diagnosa", t["diagRujukan"]),
        )
    return _ok(t["noRujukan"])


def _delete() -> Response:
    t = _t_rujukan("vclaim-rujukan-delete")
    state = _state()
    with state.lock:
        out = state.outgoing.get(t["noRujukan"])
        if out is None or out["ppkAsal"] != g.bpjs_ppk:
            raise Reject(201, "Data rujukan tidak ditemukan")
        del state.outgoing[t["noRujukan"]]
    return _ok(t["noRujukan"])


def _khusus_insert() -> Response:
    body = _body()
    _validate("vclaim-rujukan-khusus-insert", body)
    state = _state()
    source = state.referrals.get(body["noRujukan"])
    poli = source["poliRujukan"]["kode"] if source else (state.outgoing.get(body["noRujukan"]) or {}).get("poliRujukan")
    if poli is None:
        raise Reject(201, "Data rujukan tidak ditemukan")
    if poli != "HDL":
        raise Reject(201, "Nomor rujukan Poli Terakhir Bukan Hemodialisa")
    card = source["peserta"]["noKartu"] if source else state.outgoing[body["noRujukan"]]["noKartu"]
    today = _today()
    row = {
        "norujukan": body["noRujukan"],
        "nokapst": card,
        "nmpst": state.members[card]["nama"],
        "diagppk": ";".join(d["kode"].split(";", 1)[1] for d in body["diagnosa"]),
        "tglrujukan_awal": today.isoformat(),
        "tglrujukan_berakhir": (today + dt.timedelta(days=30)).isoformat(),
    }
    state.khusus[body["noRujukan"]] = row
    return _ok({"rujukan": row})


def _prb_insert() -> Response:
    body = _body()
    _validate("vclaim-prb-insert", body)
    t, state = body["request"]["t_prb"], _state()
    sep = state.seps.get(t["noSep"])
    if sep is None or sep["noKartu"] != t["noKartu"]:
        raise Reject(201, "No.SEP tidak ditemukan atau bukan milik No.Kartu ini")
    program = next((p for p in state.reference["diagnosaprb"] if p["kode"] == t["programPRB"]), None)
    if program is None:
        raise Reject(201, f"Program PRB {t['programPRB']} tidak ditemukan")
    with state.lock:
        number = f"{state.next_seq():07d}"
        state.prb[number] = t
    return _ok(
        {
            "noSRB": number,
            "tglSRB": _today().isoformat(),
            "programPRB": program,
            "peserta": {"noKartu": t["noKartu"], "nama": state.members[t["noKartu"]]["nama"]},
        }
    )


# ------------------------------------------------------------------ referensi


def _ref(name: str, key: str, query: str | None = None, source: str | None = None) -> Response:
    rows = _state().reference.get(source or name, [])
    if query is not None:
        q = query.lower()
        rows = [r for r in rows if q in r["kode"].lower() or q in r["nama"].lower()]
    if not rows:
        raise Reject(201, "Data tidak ditemukan")
    return _ok({key: rows})


def _register_referensi(vc: Any) -> None:
    vc.add_url_rule("/referensi/diagnosa/<q>", endpoint="ref_diag", view_func=lambda q: _ref("diagnosa", "diagnosa", q))
    vc.add_url_rule("/referensi/poli/<q>", endpoint="ref_poli", view_func=lambda q: _ref("poli", "poli", q))
    vc.add_url_rule("/referensi/faskes/<q>/<jenis>", endpoint="ref_faskes", view_func=_ref_faskes)
    vc.add_url_rule("/referensi/dokter/pelayanan/<jns>/tglPelayanan/<date>/Spesialis/<kode>", view_func=_ref_dokter)
    vc.add_url_rule("/referensi/propinsi", endpoint="ref_prop", view_func=lambda: _ref("propinsi", "list"))
    vc.add_url_rule(
        "/referensi/kabupaten/propinsi/<kd>", endpoint="ref_kab", view_func=lambda kd: _ref("kabupaten", "list")
    )
    vc.add_url_rule(
        "/referensi/kecamatan/kabupaten/<kd>", endpoint="ref_kec", view_func=lambda kd: _ref("kecamatan", "list")
    )
    vc.add_url_rule("/referensi/diagnosaprb", endpoint="ref_prb", view_func=lambda: _ref("diagnosaprb", "list"))


def _ref_faskes(q: str, jenis: str) -> Response:
    if jenis not in ("1", "2"):
        raise Reject(201, "Jenis faskes harus 1 (Faskes 1) atau 2 (Faskes 2/RS)")
    return _ref("faskes", "faskes", q, source=f"faskes{jenis}")


def _ref_dokter(jns: str, date: str, kode: str) -> Response:
    _vclaim_date(date)
    if jns not in ("1", "2"):
        raise Reject(201, "Jenis pelayanan harus 1 (rawat inap) atau 2 (rawat jalan)")
    return _ref("dokter", "list")


# ------------------------------------------------------------------ PCare

_KC = {
    "kdKC": "1301",
    "nmKC": "MALANG",
    "alamat": None,
    "telp": None,
    "fax": None,
    "kdKR": {"kdKR": "13", "nmKR": "KEDEPUTIAN WILAYAH JAWA TIMUR", "alamat": None, "telp": None, "fax": None},
    "dati": {"kdProp": "15", "kdDati": "0227", "nmDati": "KAB. MALANG"},
}


def _pcare_rujukan(number: str) -> Response:
    visit = _state().kunjungan.get(number)
    if visit is None or not visit.get("rujukLanjut"):
        raise Reject(204, "NO_CONTENT")
    member = _state().members[visit["noKartu"]]
    rujuk = visit["rujukLanjut"]
    target = (rujuk.get("subSpesialis") or {}).get("kdSubSpesialis1") or (rujuk.get("khusus") or {}).get("kdKhusus")
    return _envelope(
        200,
        "OK",
        {
            "noRujukan": number,
            "ppk": {"kdPPK": rujuk["kdppk"], "nmPPK": _name("faskes2", rujuk["kdppk"]), "alamat": None, "kc": _KC},
            "tglKunjungan": visit["tglDaftar"],
            "poli": {"kdPoli": target or "-", "nmPoli": ""},
            "nokaPst": member["noKartu"],
            "nmPst": member["nama"],
            "tglLahir": dt.date.fromisoformat(member["tglLahir"]).strftime("%d-%m-%Y"),
            "pisa": member["pisa"],
            "ketPisa": "Peserta",
            "sex": member["sex"],
            "diag1": {"kdDiag": visit["kdDiag1"], "nmDiag": _name("diagnosa", visit["kdDiag1"])},
            "diag2": None,
            "diag3": None,
            "catatan": visit.get("keluhan"),
            "dokter": {"kdDokter": visit["kdDokter"], "nmDokter": ""},
            "tacc": None,
            "infoDenda": None,
            "tglEstRujuk": rujuk["tglEstRujuk"],
        },
    )


def _pcare_kunjungan() -> Response:
    body = _body()
    _validate("pcare-kunjungan", body, pcare=True)
    state = _state()
    if body["noKartu"] not in state.members:
        raise Reject(412, "PRECONDITION_FAILED", [{"field": "noKartu", "message": "Peserta tidak ditemukan"}])
    day = dt.datetime.strptime(body["tglDaftar"], "%d-%m-%Y").date()
    with state.lock:
        number = f"{g.bpjs_fktp}{day:%m%y}Y{state.next_seq():06d}"
        state.kunjungan[number] = {**body, "noKunjungan": number}
        if body.get("rujukLanjut"):
            state.referrals[number] = _fktp_referral(number, body, day)
    return _envelope(201, "CREATED", {"field": "noKunjungan", "message": number})


def _fktp_referral(number: str, visit: dict[str, Any], day: dt.date) -> dict[str, Any]:
    """What VClaim ``Rujukan/{no}`` shows for a referral made in PCare."""
    return {
        "noKunjungan": number,
        "tglKunjungan": day.isoformat(),
        "keluhan": visit.get("keluhan") or "",
        "diagnosa": {"kode": visit["kdDiag1"], "nama": _name("diagnosa", visit["kdDiag1"])},
        "pelayanan": {"kode": "2", "nama": "Rawat Jalan"},
        "poliRujukan": {"kode": "", "nama": ""},
        "provPerujuk": {"kode": g.bpjs_fktp, "nama": _name("faskes1", g.bpjs_fktp)},
        "peserta": _state().members[visit["noKartu"]],
    }


# ------------------------------------------------------------------ app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The simulator app; ``config`` overrides :data:`DEFAULTS` (``CLOCK`` = a ``time.time``-like callable,
    ``SEED`` = a dict shaped like :func:`default_seed`)."""
    from flask import Blueprint

    app = Flask("jembatan-bpjs-simulator")
    app.config.update({**DEFAULTS, "CLOCK": time.time})
    app.config.update(config or {})
    clock: Callable[[], float] = app.config["CLOCK"]
    seed = app.config.get("SEED") or default_seed(dt.datetime.fromtimestamp(clock(), dt.UTC).date())
    app.extensions["bpjs_simulator"] = State(
        members=json.loads(json.dumps(seed["members"])),
        referrals=json.loads(json.dumps(seed["referrals"])),
        outgoing={},
        seps=json.loads(json.dumps(seed["seps"])),
        reference=seed["reference"],
    )
    vc, pc = (
        Blueprint("vclaim", __name__, url_prefix="/vclaim-rest"),
        Blueprint("pcare", __name__, url_prefix="/pcare-rest"),
    )
    _register_lookups(vc)
    _register_referensi(vc)
    vc.add_url_rule("/Rujukan/2.0/insert", view_func=_insert, methods=["POST"])
    vc.add_url_rule("/Rujukan/2.0/Update", view_func=_update, methods=["PUT"])
    vc.add_url_rule("/Rujukan/delete", view_func=_delete, methods=["DELETE"])
    vc.add_url_rule("/Rujukan/Khusus/insert", view_func=_khusus_insert, methods=["POST"])
    vc.add_url_rule("/PRB/insert", view_func=_prb_insert, methods=["POST"])
    pc.add_url_rule("/kunjungan/rujukan/<number>", view_func=_pcare_rujukan)
    pc.add_url_rule("/kunjungan", view_func=_pcare_kunjungan, methods=["POST"])
    app.register_blueprint(vc)
    app.register_blueprint(pc)
    _install_hooks(app)
    return app


def _install_hooks(app: Flask) -> None:
    @app.before_request
    def authenticate() -> Response | None:
        if request.routing_exception is not None:
            return None  # unknown path: the HTML 404 below, as IIS answers a wrong service name
        try:
            g.bpjs_creds = _check_auth(app)
        except Reject as exc:
            return _envelope(exc.code, exc.message, None, exc.status)
        consumer = app.config["CONSUMERS"][g.bpjs_creds.cons_id]
        g.bpjs_ppk = consumer.get("ppk", "")
        g.bpjs_fktp = consumer.get("fktp", "03050301")
        return None

    @app.after_request
    def stamp_date(response: Response) -> Response:
        response.headers["Date"] = email.utils.formatdate(app.config["CLOCK"](), usegmt=True)
        return response

    @app.errorhandler(Reject)
    def rejected(exc: Reject) -> Response:
        return _envelope(exc.code, exc.message, exc.response, exc.status)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(exc: Exception) -> Response:
        return Response(HTML_404, status=404, mimetype="text/html")
