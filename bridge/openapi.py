"""OpenAPI 3.1 description of the gateway's own endpoints (feature blueprints add their own sections)."""

from __future__ import annotations

from typing import Any

OO = {"$ref": "#/components/schemas/OperationOutcome"}


def _op(summary: str, responses: dict[str, str], *, body: bool = False, params: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            code: {"description": desc, "content": {"application/json": {"schema": OO}}}
            for code, desc in responses.items()
        },
    }
    if params:
        op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
    if body:
        op["requestBody"] = {"required": True, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    return op


ERRORS = {
    "401": "missing or invalid API key",
    "403": "key not allowed for this channel",
    "413": "body too large",
    "415": "wrong content type",
}


def openapi_document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Jembatan gateway",
            "version": version,
            "description": "Interoperability gateway with FHIR R4 as the pivot. Errors are FHIR OperationOutcomes.",
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {
                "get": {**_op("Liveness and database check", {"200": "up", "503": "database down"}), "security": []}
            },
            "/channels/{name}/messages": {
                "post": _op(
                    "Ingest a message in the channel's source format",
                    {
                        "200": "accepted",
                        "202": "accepted and queued for delivery",
                        "409": "idempotency conflict",
                        "422": "rejected with issues",
                        **ERRORS,
                    },
                    body=True,
                    params=["name"],
                )
            },
            "/transactions/{id}": {
                "get": _op(
                    "A transaction's status history, mappings used, outcome, timings",
                    {"200": "found", "404": "unknown id", **ERRORS},
                    params=["id"],
                )
            },
            "/conformance/{name}/$validate": {
                "post": _op(
                    "Check a payload against a profile (satusehat, bpjs, dhis2) or a format",
                    {"200": "no error-level issue", "422": "issues found", **ERRORS},
                    body=True,
                    params=["name"],
                )
            },
            "/formats": {"get": _op("Registered formats, conformance profiles and channels", {"200": "listing"})},
            "/openapi.json": {"get": _op("This document", {"200": "OpenAPI"})},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "OperationOutcome": {
                    "type": "object",
                    "required": ["resourceType", "issue"],
                    "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array"}},
                }
            },
        },
    }
