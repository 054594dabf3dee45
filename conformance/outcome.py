"""Located issues and the outcome of a check, convertible to and from a FHIR R4 OperationOutcome.

An :class:`Issue` says *what* is wrong (severity, FHIR IssueType ``code``, message), *where*
(``expression``: FHIRPath or element paths; ``location``: wire positions such as ``PID-8`` or
``line 3, col 7``) and carries a stable ``message_id`` (``GW-4xxx``, ``SATUSEHAT-10117`` …) that
clients can switch on. An :class:`Outcome` is an ordered list of issues; it is ``ok`` while no
issue is ``error`` or ``fatal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]
SEVERITIES: tuple[Severity, ...] = ("fatal", "error", "warning", "information")
MESSAGE_ID_SYSTEM = "urn:jembatan:message-id"


@dataclass(frozen=True)
class Issue:
    """One located finding. ``code`` is a FHIR IssueType (``invalid``, ``code-invalid``, ``required`` …)."""

    severity: Severity
    code: str
    message: str
    expression: tuple[str, ...] = ()
    location: tuple[str, ...] = ()
    message_id: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        # accept a single string where a tuple is expected
        if isinstance(self.expression, str):
            object.__setattr__(self, "expression", (self.expression,))
        if isinstance(self.location, str):
            object.__setattr__(self, "location", (self.location,))

    @classmethod
    def error(cls, code: str, message: str, **kw: Any) -> Issue:
        return cls("error", code, message, **kw)

    @classmethod
    def warning(cls, code: str, message: str, **kw: Any) -> Issue:
        return cls("warning", code, message, **kw)

    @classmethod
    def information(cls, code: str, message: str, **kw: Any) -> Issue:
        return cls("information", code, message, **kw)

    @classmethod
    def fatal(cls, code: str, message: str, **kw: Any) -> Issue:
        return cls("fatal", code, message, **kw)

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    def to_fhir(self) -> dict[str, Any]:
        """Render as an ``OperationOutcome.issue`` element (FHIR JSON)."""
        details: dict[str, Any] = {"text": self.message}
        if self.message_id:
            details["coding"] = [{"system": MESSAGE_ID_SYSTEM, "code": self.message_id}]
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "details": details}
        if self.expression:
            out["expression"] = list(self.expression)
        if self.location:
            out["location"] = list(self.location)
        return out

    @classmethod
    def from_fhir(cls, data: Mapping[str, Any]) -> Issue:
        """Read an ``OperationOutcome.issue``; tolerant of servers that only fill ``diagnostics``."""
        details = data.get("details") or {}
        message = details.get("text") or data.get("diagnostics") or ""
        message_id = None
        for coding in details.get("coding") or []:
            message_id = coding.get("code")
            if coding.get("system") == MESSAGE_ID_SYSTEM:
                break
        return cls(
            severity=data.get("severity", "error"),
            code=data.get("code", "processing"),
            message=message,
            expression=tuple(data.get("expression") or ()),
            location=tuple(data.get("location") or ()),
            message_id=message_id,
        )


@dataclass
class Outcome:
    """An ordered collection of issues. ``ok`` means nothing at error or fatal level."""

    issues: list[Issue] = field(default_factory=list)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    def __bool__(self) -> bool:  # an Outcome object is always truthy; use .ok
        return True

    @property
    def ok(self) -> bool:
        return not any(issue.is_error for issue in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "warning"]

    def add(self, issue: Issue) -> Issue:
        self.issues.append(issue)
        return issue

    def extend(self, issues: Iterable[Issue]) -> Outcome:
        self.issues.extend(issues)
        return self

    def message_ids(self) -> list[str]:
        return [issue.message_id for issue in self.issues if issue.message_id]

    def to_operation_outcome(self) -> dict[str, Any]:
        """FHIR R4 OperationOutcome JSON. An empty outcome gets the informational "All OK" issue FHIR requires."""
        issues = [issue.to_fhir() for issue in self.issues]
        if not issues:
            issues = [{"severity": "information", "code": "informational", "details": {"text": "All OK"}}]
        return {"resourceType": "OperationOutcome", "issue": issues}

    def to_model(self) -> Any:
        """The same as a ``fhir.resources`` R4B OperationOutcome model (validated)."""
        from fhir.resources.R4B.operationoutcome import OperationOutcome

        return OperationOutcome.model_validate(self.to_operation_outcome())

    @classmethod
    def from_operation_outcome(cls, data: Mapping[str, Any] | Any) -> Outcome:
        """Build from an OperationOutcome (JSON dict or fhir.resources model); drops the "All OK" filler."""
        if not isinstance(data, Mapping):
            data = data.model_dump(mode="json", exclude_none=True)
        issues = [Issue.from_fhir(raw) for raw in data.get("issue") or []]
        issues = [i for i in issues if not (i.code == "informational" and i.message == "All OK")]
        return cls(issues)

    @classmethod
    def of(cls, *issues: Issue) -> Outcome:
        return cls(list(issues))


def outcome_from_error(exc: Any) -> Outcome:
    """One-issue outcome for a :class:`bridge.errors.GatewayError`."""
    location = (exc.location,) if getattr(exc, "location", None) else ()
    return Outcome.of(
        Issue("error", getattr(exc, "issue_type", "exception"), exc.message, location=location, message_id=exc.code)
    )
