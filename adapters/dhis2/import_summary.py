"""DHIS2 import responses (WebMessage / ImportSummary) read into an :class:`ImportResult` with located issues.

Both error-code families are understood: ≤ 2.42 ``E76xx`` and 2.43+ ``E80xx`` (set level) /
``E81xx`` (value level). Each conflict becomes one issue per index it names
(``dataValues[3]``); indexes in ``rejectedIndexes`` that no conflict explains get a generic
issue. ``status: ERROR`` (HTTP 409) is a whole-group failure: nothing of the group was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.dhis2.model import AdxDocument, DataValueSet, FlatValue, flatten, flatten_adx
from conformance.outcome import Issue, Outcome

# what a DHIS2 error code means, for the issue type (FHIR IssueType) we report
_NOT_FOUND = {"E7600", "E7610", "E7612", "E7614", "E7615", "E8100", "E8101", "E8103", "E8104", "E8105"}
_VALUE = {"E7619", "E7630", "E8120", "E8121", "E8122", "E8123", "E8124", "E8125", "E8126"}


@dataclass
class ImportResult:
    """What DHIS2 said about one import: status, counts, conflicts and the values they concern."""

    status: str  # SUCCESS | WARNING | ERROR (ImportSummary spelling)
    http_status: int | None = None
    import_count: dict[str, int] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected_indexes: list[int] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def whole_group_failed(self) -> bool:
        return self.status == "ERROR"

    def issues_for(self, index: int) -> list[Issue]:
        where = f"dataValues[{index}]"
        return [i for i in self.outcome.issues if where in i.expression]

    def offending(self, sent: DataValueSet | AdxDocument) -> list[tuple[int, FlatValue, list[Issue]]]:
        """The values of the payload ``sent`` that DHIS2 rejected or complained about, with their issues.

        Indexes count data values in payload order (across ADX groups), as DHIS2 reports them.
        """
        rows = flatten_adx(sent) if isinstance(sent, AdxDocument) else flatten(sent)
        wanted: list[int]
        if self.whole_group_failed:
            wanted = list(range(len(rows)))
        else:
            wanted = sorted(set(self.rejected_indexes) | {i for i in range(len(rows)) if self.issues_for(i)})
        return [(i, rows[i], self.issues_for(i)) for i in wanted if i < len(rows)]


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    """The ImportSummary inside a WebMessage (``response``), or the body itself."""
    response = body.get("response")
    if (
        isinstance(response, dict)
        and response.get("responseType") in ("ImportSummary", None)
        and ("importCount" in response or "status" in response)
    ):
        return response
    return body


def _status(summary: dict[str, Any], body: dict[str, Any], http: int | None) -> str:
    raw = str(summary.get("status") or body.get("status") or "").upper()
    if raw in ("OK", "SUCCESS"):
        return "SUCCESS"
    if raw in ("WARNING", "ERROR"):
        return raw
    return "ERROR" if http == 409 or (http or 200) >= 400 else "SUCCESS"


def _issue_type(code: str) -> str:
    if code in _NOT_FOUND:
        return "not-found"
    if code in _VALUE:
        return "value"
    return "business-rule"


def _conflict_issues(conflict: dict[str, Any], severity: str) -> list[Issue]:
    code = str(conflict.get("errorCode") or "DHIS2")
    message = str(conflict.get("value") or conflict.get("object") or "conflict")
    obj = conflict.get("object")
    if obj and str(obj) not in message:
        message = f"{message} ({obj})"
    indexes = [i for i in conflict.get("indexes") or [] if isinstance(i, int)]
    where = tuple(f"dataValues[{i}]" for i in indexes) or ("dataValues",)
    return [Issue(severity, _issue_type(code), message, expression=(w,), message_id=code) for w in where]  # type: ignore[arg-type]


def parse_import_summary(body: dict[str, Any], http_status: int | None = None) -> ImportResult:
    """Read a sync WebMessage, a task summary or a bare ImportSummary (JSON already decoded)."""
    summary = _summary(body)
    status = _status(summary, body, http_status)
    outcome = Outcome()
    conflicts = [c for c in summary.get("conflicts") or [] if isinstance(c, dict)]
    for conflict in conflicts:
        outcome.extend(_conflict_issues(conflict, "error"))
    rejected = sorted(i for i in summary.get("rejectedIndexes") or [] if isinstance(i, int))
    explained = {e for i in outcome.issues for e in i.expression}
    for index in rejected:
        if f"dataValues[{index}]" not in explained:
            outcome.add(
                Issue.error(
                    "processing", "value rejected by DHIS2", expression=(f"dataValues[{index}]",), message_id="GW-5260"
                )
            )
    if status == "ERROR" and not outcome.issues:
        message = str(summary.get("description") or body.get("message") or "import failed")
        outcome.add(Issue.error("processing", message, expression=("dataValues",), message_id="GW-5261"))
    count = summary.get("importCount") or summary.get("dataValueCount") or {}
    return ImportResult(
        status=status,
        http_status=http_status,
        import_count={k: int(v) for k, v in count.items() if isinstance(v, int | str) and str(v).isdigit()},
        conflicts=conflicts,
        rejected_indexes=rejected,
        outcome=outcome,
        raw=body,
    )
