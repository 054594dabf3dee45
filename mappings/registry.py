"""Versioned code mappings: ConceptMap-shaped JSON files, one per map per version.

Layout: ``<root>/<map-id>/<semver>.json``. Each file is an R4 ConceptMap whose ``id`` is the map
id and whose ``version`` is the file's semver. A file is fingerprinted by the sha256 of its
canonical JSON (sorted keys, no insignificant white space), so re-indenting a file keeps its
digest while any change of content changes it.

Published versions are immutable: ``<root>/published.json`` records ``{"<map-id>|<version>":
"<digest>"}``; a file whose version is listed there must still have that digest, otherwise
loading fails with :class:`PublishedMappingChanged`. A ``draft`` ConceptMap may change freely until
``jembatan mappings publish`` records it.

Several roots may be given (the bundled one first, then operator folders); a later root may add
versions but never redefine one an earlier root has.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import MappingFileInvalid, MappingNotFound, PublishedMappingChanged

BUNDLED_ROOT = Path(__file__).resolve().parent
LOCK_FILE = "published.json"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$")
MAP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
EQUIVALENCES = frozenset(
    "relatedto equivalent equal wider subsumes narrower specializes inexact unmatched disjoint".split()
)
NO_MATCH = frozenset({"unmatched", "disjoint"})


def semver_key(version: str) -> tuple[int, int, int, int, str]:
    match = SEMVER.match(version)
    if not match:
        return (-1, -1, -1, -1, version)
    major, minor, patch, pre = match.groups()
    # a release sorts after its pre-releases
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def canonical_digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Translation:
    """Result of translating one code. ``target`` is ``None`` when nothing maps."""

    source_system: str | None
    source_code: str
    target: str | None
    target_system: str | None = None
    display: str | None = None
    equivalence: str | None = None
    map_id: str = ""
    version: str = ""
    digest: str = ""


@dataclass(frozen=True)
class _Target:
    code: str
    system: str | None
    display: str | None
    equivalence: str


@dataclass
class ConceptMapVersion:
    """One immutable version of one map, with lookup tables built once."""

    map_id: str
    version: str
    digest: str
    resource: dict[str, Any]
    path: Path | None = None
    _forward: dict[tuple[str | None, str], list[_Target]] = field(default_factory=dict, repr=False)
    _reverse: dict[tuple[str | None, str], list[_Target]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for group in self.resource.get("group", []):
            self._index_group(group)

    @property
    def status(self) -> str:
        return str(self.resource.get("status", "draft"))

    @property
    def url(self) -> str | None:
        return self.resource.get("url")

    def _index_group(self, group: dict[str, Any]) -> None:
        src, tgt = group.get("source"), group.get("target")
        for element in group.get("element", []):
            for target in element.get("target", []):
                equivalence = target.get("equivalence", "equivalent")
                if equivalence in NO_MATCH or "code" not in target:
                    continue
                fwd = _Target(target["code"], tgt, target.get("display"), equivalence)
                self._forward.setdefault((src, element["code"]), []).append(fwd)
                rev = _Target(element["code"], src, element.get("display"), _invert(equivalence))
                self._reverse.setdefault((tgt, target["code"]), []).append(rev)

    def translate(
        self, system: str | None, code: str, *, reverse: bool = False, target_system: str | None = None
    ) -> Translation:
        """First target for ``(system, code)``; ``system=None`` matches any group.

        ``target_system`` keeps only targets in that system (e.g. reverse-translating ``male`` to
        BPJS ``L`` rather than v2 ``M``). Whitespace around ``code`` is ignored (BPJS and SIMRS
        payloads often carry trailing spaces).
        """
        table = self._reverse if reverse else self._forward
        code = code.strip()
        targets = table.get((system, code))
        if targets is None and system is None:
            targets = next((t for (s, c), t in table.items() if c == code), None)
        if targets and target_system is not None:
            targets = [t for t in targets if t.system == target_system]
        if not targets:
            return Translation(system, code, None, map_id=self.map_id, version=self.version, digest=self.digest)
        best = targets[0]
        return Translation(
            system,
            code,
            best.code,
            best.system,
            best.display,
            best.equivalence,
            self.map_id,
            self.version,
            self.digest,
        )

    def codes(self, *, reverse: bool = False) -> list[tuple[str | None, str]]:
        """Every source ``(system, code)`` that maps (or every target, when ``reverse``)."""
        return list((self._reverse if reverse else self._forward).keys())


def _invert(equivalence: str) -> str:
    return {"wider": "narrower", "narrower": "wider", "subsumes": "specializes", "specializes": "subsumes"}.get(
        equivalence, equivalence
    )


def check_resource(obj: Any, map_id: str, version: str, where: str) -> list[str]:
    """Problems with one mapping file's content (empty list = fine)."""
    problems: list[str] = []
    if not isinstance(obj, dict) or obj.get("resourceType") != "ConceptMap":
        return [f"{where}: not a ConceptMap"]
    if obj.get("id") != map_id:
        problems.append(f"{where}: id {obj.get('id')!r} differs from folder name {map_id!r}")
    if obj.get("version") != version:
        problems.append(f"{where}: version {obj.get('version')!r} differs from file name {version!r}")
    if obj.get("status") not in ("draft", "active", "retired"):
        problems.append(f"{where}: status must be draft, active or retired")
    for gi, group in enumerate(obj.get("group") or []):
        problems.extend(_check_group(group, f"{where} group[{gi}]"))
    if not obj.get("group"):
        problems.append(f"{where}: no group")
    return problems


def _check_group(group: Any, where: str) -> list[str]:
    if not isinstance(group, dict) or not isinstance(group.get("element"), list):
        return [f"{where}: a group needs an element list"]
    problems, seen = [], set()
    for ei, element in enumerate(group["element"]):
        code = element.get("code") if isinstance(element, dict) else None
        if not isinstance(code, str) or not code:
            problems.append(f"{where}.element[{ei}]: missing code")
            continue
        if code in seen:
            problems.append(f"{where}.element[{ei}]: code {code!r} listed twice")
        seen.add(code)
        for ti, target in enumerate(element.get("target") or []):
            if target.get("equivalence", "equivalent") not in EQUIVALENCES:
                problems.append(f"{where}.element[{ei}].target[{ti}]: bad equivalence {target.get('equivalence')!r}")
    return problems


class MappingRegistry:
    """Loads, checks and serves every map version under one or more roots."""

    def __init__(self, roots: Iterable[Path | str] = (BUNDLED_ROOT,)) -> None:
        self.roots = [Path(r) for r in roots]
        self._maps: dict[str, dict[str, ConceptMapVersion]] = {}
        self._latest: dict[str, ConceptMapVersion] = {}  # get() without a version: highest semver, worked out once
        for root in self.roots:
            self._load_root(root)

    def _load_root(self, root: Path) -> None:
        self._latest.clear()  # a root may add a newer version
        lock = read_lock(root)
        for path in sorted(root.glob("*/*.json")):
            cmap = load_file(path)
            self._check_published(cmap, lock)
            existing = self._maps.get(cmap.map_id, {}).get(cmap.version)
            if existing is not None and existing.digest != cmap.digest:
                raise PublishedMappingChanged(
                    message=f"{path}: redefines {cmap.map_id}|{cmap.version} already loaded from {existing.path}"
                )
            self._maps.setdefault(cmap.map_id, {})[cmap.version] = cmap

    @staticmethod
    def _check_published(cmap: ConceptMapVersion, lock: dict[str, str]) -> None:
        recorded = lock.get(f"{cmap.map_id}|{cmap.version}")
        if recorded is not None and recorded != cmap.digest:
            raise PublishedMappingChanged(
                message=f"{cmap.path}: published version {cmap.map_id}|{cmap.version} was changed in place "
                f"(recorded {recorded}, now {cmap.digest}); publish a new version instead",
                location=str(cmap.path),
            )

    def get(self, map_id: str, version: str | None = None) -> ConceptMapVersion:
        """A pinned version, or the highest semver when ``version`` is None."""
        if version is None and map_id in self._latest:
            return self._latest[map_id]
        versions = self._maps.get(map_id)
        if not versions:
            raise MappingNotFound(message=f"no mapping {map_id!r}")
        if version is None:
            latest = self._latest[map_id] = versions[max(versions, key=semver_key)]
            return latest
        try:
            return versions[version]
        except KeyError:
            raise MappingNotFound(
                message=f"mapping {map_id!r} has no version {version!r} (have {', '.join(sorted(versions))})"
            ) from None

    def translate(self, map_id: str, version: str | None, system: str | None, code: str) -> Translation:
        return self.get(map_id, version).translate(system, code)

    def __iter__(self) -> Iterator[ConceptMapVersion]:
        for versions in self._maps.values():
            yield from versions.values()

    def map_ids(self) -> list[str]:
        return sorted(self._maps)

    def __contains__(self, map_id: object) -> bool:
        return map_id in self._maps

    def versions(self, map_id: str) -> list[str]:
        return sorted(self._maps.get(map_id, {}), key=semver_key)


def load_file(path: Path) -> ConceptMapVersion:
    map_id, version = path.parent.name, path.stem
    if not MAP_ID.match(map_id) or not SEMVER.match(version):
        raise MappingFileInvalid(message=f"{path}: expected <map-id>/<semver>.json", location=str(path))
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MappingFileInvalid(message=f"{path}: cannot read JSON: {exc}", location=str(path)) from exc
    problems = check_resource(obj, map_id, version, str(path))
    if problems:
        raise MappingFileInvalid(message="; ".join(problems), location=str(path))
    return ConceptMapVersion(map_id, version, canonical_digest(obj), obj, path)


def read_lock(root: Path) -> dict[str, str]:
    path = root / LOCK_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MappingFileInvalid(message=f"{path}: not JSON: {exc}", location=str(path)) from exc
    return {str(k): str(v) for k, v in data.items()}


def publish(root: Path, map_id: str, version: str) -> str:
    """Record a version's digest in ``published.json`` (idempotent); returns the digest."""
    cmap = load_file(root / map_id / f"{version}.json")
    lock = read_lock(root)
    key = f"{map_id}|{version}"
    if lock.get(key) not in (None, cmap.digest):
        raise PublishedMappingChanged(message=f"{key} is already published with digest {lock[key]}")
    lock[key] = cmap.digest
    (root / LOCK_FILE).write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return cmap.digest


def check_all(roots: Iterable[Path]) -> list[str]:
    """Every problem across all roots, as messages (used by ``jembatan mappings check``)."""
    problems: list[str] = []
    for root in roots:
        lock = read_lock(root)
        for path in sorted(root.glob("*/*.json")):
            try:
                cmap = load_file(path)
                MappingRegistry._check_published(cmap, lock)
            except (MappingFileInvalid, PublishedMappingChanged) as exc:
                problems.append(exc.message)
                continue
            if cmap.status == "active" and f"{cmap.map_id}|{cmap.version}" not in lock:
                problems.append(f"{path}: status active but not published (run `jembatan mappings publish`)")
    return problems
