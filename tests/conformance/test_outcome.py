from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import MappingNotFound
from conformance.outcome import SEVERITIES, Issue, Outcome, outcome_from_error

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
issues = st.builds(
    Issue,
    severity=st.sampled_from(SEVERITIES),
    code=st.sampled_from(["invalid", "structure", "required", "code-invalid", "processing", "not-found"]),
    message=text,
    expression=st.lists(text, max_size=2).map(tuple),
    location=st.lists(text, max_size=2).map(tuple),
    message_id=st.one_of(st.none(), st.from_regex(r"GW-[1-7]\d{3}", fullmatch=True)),
)


@given(st.lists(issues, max_size=5))
def test_outcome_survives_operation_outcome_round_trip(items):
    outcome = Outcome(items)
    back = Outcome.from_operation_outcome(outcome.to_operation_outcome())
    assert back.issues == items


@given(st.lists(issues, max_size=5))
def test_operation_outcome_is_a_valid_fhir_resource(items):
    model = Outcome(items).to_model()
    assert Outcome.from_operation_outcome(model).issues == items


def test_ok_means_no_error_or_fatal():
    assert Outcome.of(Issue.warning("invalid", "w"), Issue.information("informational", "i")).ok
    assert not Outcome.of(Issue.error("invalid", "e")).ok
    assert not Outcome.of(Issue.fatal("exception", "f")).ok


def test_empty_outcome_renders_the_all_ok_issue_fhir_requires():
    oo = Outcome().to_operation_outcome()
    assert oo["issue"][0]["severity"] == "information"
    assert Outcome.from_operation_outcome(oo).issues == []


def test_foreign_outcome_with_only_diagnostics_is_read():
    oo = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "business-rule", "diagnostics": "Rule 10117 failed"}],
    }
    (issue,) = Outcome.from_operation_outcome(oo).issues
    assert issue.message == "Rule 10117 failed"


def test_error_becomes_a_located_issue_with_its_code():
    (issue,) = outcome_from_error(MappingNotFound(message="no map x", location="mappings/x")).issues
    assert (issue.message_id, issue.code, issue.location) == ("GW-2101", "not-found", ("mappings/x",))
