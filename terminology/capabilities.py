"""CapabilityStatement and TerminologyCapabilities of the terminology server."""

from __future__ import annotations

from typing import Any

SOFTWARE = "Jembatan terminology server"
VERSION = "0.1.0"
RELEASE_DATE = "2026-11-24"
FEATURE = "http://hl7.org/fhir/uv/application-feature/StructureDefinition/feature"
EXPANSION_PARAMETERS = (
    "activeOnly",
    "check-system-version",
    "count",
    "displayLanguage",
    "excludeNested",
    "force-system-version",
    "includeDefinition",
    "includeDesignations",
    "offset",
    "property",
    "system-version",
    "tx-resource",
)
OPS = "http://hl7.org/fhir/OperationDefinition/"


def _feature(definition: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": FEATURE,
        "extension": [{"url": "definition", "valueCanonical": definition}, {"url": "value", **value}],
    }


def _resource(rtype: str, operations: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": rtype,
        "interaction": [{"code": c} for c in ("read", "search-type", "create", "update", "delete")],
        "searchParam": [
            {"name": n, "type": "token" if n in ("status", "version") else "string"}
            for n in ("url", "version", "name", "title", "status")
        ],
        "operation": [{"name": name, "definition": OPS + definition} for name, definition in operations],
    }


def capability_statement(base: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "extension": [
            _feature("http://hl7.org/fhir/uv/tx-tests/FeatureDefinition/test-version", {"valueCode": "1.9.3"}),
            _feature("http://hl7.org/fhir/uv/tx-ecosystem/FeatureDefinition/CodeSystemAsParameter", {}),
        ],
        "url": base + "/metadata",
        "version": VERSION,
        "name": "JembatanTerminologyServer",
        "title": "Jembatan FHIR terminology server",
        "status": "active",
        "date": RELEASE_DATE,
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "software": {"name": SOFTWARE, "version": VERSION, "releaseDate": RELEASE_DATE},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    _resource(
                        "CodeSystem", [("lookup", "CodeSystem-lookup"), ("validate-code", "CodeSystem-validate-code")]
                    ),
                    _resource("ValueSet", [("expand", "ValueSet-expand"), ("validate-code", "ValueSet-validate-code")]),
                    _resource("ConceptMap", [("translate", "ConceptMap-translate")]),
                ],
                "operation": [{"name": "versions", "definition": OPS + "CapabilityStatement-versions"}],
            }
        ],
    }


def terminology_capabilities() -> dict[str, Any]:
    return {
        "resourceType": "TerminologyCapabilities",
        "version": VERSION,
        "name": "JembatanTerminologyCapabilities",
        "title": "Jembatan terminology capabilities",
        "status": "active",
        "date": RELEASE_DATE,
        "expansion": {"parameter": [{"name": n} for n in EXPANSION_PARAMETERS]},
    }
