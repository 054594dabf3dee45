"""Terminology errors carrying what a FHIR terminology OperationOutcome needs (GW-3xxx)."""

from __future__ import annotations

from typing import Any

from bridge.errors import TerminologyError

TX_ISSUE_TYPE = "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type"
MESSAGE_ID_EXT = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"


class TxError(TerminologyError):
    """An operation failure answered as a 4xx OperationOutcome.

    ``issue_code`` is the FHIR IssueType, ``tx_type`` the tx-issue-type detail code,
    ``message_id`` a stable message key, ``expression`` the FHIRPath(s) of the culprit.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        issue_code: str = "invalid",
        tx_type: str | None = None,
        message_id: str | None = None,
        expression: list[str] | None = None,
        diagnostics: str | None = None,
    ) -> None:
        super().__init__(code, message, status=status)
        self.issue_type = issue_code
        self.tx_type = tx_type
        self.message_id = message_id
        self.expression = expression or []
        self.diagnostics = diagnostics

    def to_operation_outcome(self) -> dict[str, Any]:
        return {"resourceType": "OperationOutcome", "issue": [self.issue()]}

    def issue(self) -> dict[str, Any]:
        return make_issue(
            "error",
            self.issue_type,
            self.message,
            tx_type=self.tx_type,
            message_id=self.code if self.message_id is None else (self.message_id or None),
            expression=self.expression,
            diagnostics=self.diagnostics,
        )


def make_issue(
    severity: str,
    code: str,
    text: str,
    *,
    tx_type: str | None = None,
    message_id: str | None = None,
    expression: list[str] | None = None,
    diagnostics: str | None = None,
    located: bool = True,
) -> dict[str, Any]:
    """An issue; ``expression`` also fills the legacy ``location`` unless ``located`` is False."""
    issue: dict[str, Any] = {"severity": severity, "code": code}
    if message_id:
        issue["extension"] = [{"url": MESSAGE_ID_EXT, "valueString": message_id}]
    details: dict[str, Any] = {"text": text}
    if tx_type:
        details["coding"] = [{"system": TX_ISSUE_TYPE, "code": tx_type}]
    issue["details"] = details
    if diagnostics:
        issue["diagnostics"] = diagnostics
    if expression:
        if located:
            issue["location"] = list(expression)
        issue["expression"] = list(expression)
    return issue


def not_found(message: str, *, message_id: str = "GW-3404", expression: list[str] | None = None) -> TxError:
    return TxError(
        "GW-3404",
        message,
        status=404,
        issue_code="not-found",
        tx_type="not-found",
        message_id=message_id,
        expression=expression,
    )


def invalid(
    message: str,
    *,
    message_id: str | None = "GW-3001",
    tx_type: str | None = None,
    expression: list[str] | None = None,
    issue_code: str = "invalid",
) -> TxError:
    return TxError(
        "GW-3001",
        message,
        status=400,
        issue_code=issue_code,
        tx_type=tx_type,
        message_id=message_id,
        expression=expression,
    )
