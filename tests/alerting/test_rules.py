"""Rule bodies are checked as a whole: every wrong field is named, and the defaults that
a fresh database starts with are valid rules."""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.alerting.rules import RuleBody, RuleError, check, from_record, to_body, to_record
from storage.alerts import RuleRecord
from storage.default_rules import default_rule_rows

METRIC = {"name": "Disk", "kind": "metric", "metric": "system_disk_used_percent", "reduce": "avg"}
LOG = {"name": "Errors", "kind": "log", "query": "level>=error", "aggregate": "count"}


def problems(**body) -> dict[str, str]:
    with pytest.raises(RuleError) as caught:
        check(RuleBody.model_validate(body))
    return caught.value.fields


def test_a_query_that_does_not_parse_is_refused_with_its_position():
    assert problems(**{**LOG, "query": 'level>=error "open'}, critical=1) == {
        "query": "a quote is not closed at position 13"
    }


def test_each_kind_refuses_the_other_kinds_fields_and_needs_its_own():
    assert problems(name="x", kind="metric", critical=1, query="a") == {
        "metric": "required for a metric rule",
        "reduce": "required for a metric rule",
        "query": "not part of a metric rule",
    }
    assert "matchers" in problems(**LOG, critical=1, matchers={"a": "b"})
    assert problems(**LOG, critical=1, group_by=["level"]) == {
        "group_by": "a log rule groups by host, source or attrs.<name>"
    }


def test_thresholds_must_be_able_to_fire_and_to_clear():
    assert set(problems(**METRIC)) == {"critical"}
    assert set(problems(**METRIC, op=">", warning=90, warning_clear=95)) == {"warning_clear"}
    assert set(problems(**METRIC, op="<", critical=5, critical_clear=1)) == {"critical_clear"}
    assert set(problems(**METRIC, op=">", warning=99, critical=90)) == {"warning"}
    assert set(problems(**METRIC, warning=5, critical_clear=3)) == {"critical_clear"}


def test_an_annotation_template_that_does_not_parse_is_named():
    fields = problems(**METRIC, critical=1, annotations={"summary": "{{ value | round(1) "})
    assert list(fields) == ["annotations.summary"]
    assert fields["annotations.summary"].startswith("line 1:")


def test_a_checked_rule_survives_being_stored_and_read_back():
    rule = check(
        RuleBody.model_validate({**METRIC, "critical": 95, "for": 60, "group_by": ["host"]})
    )
    record = to_record(rule)
    assert record.for_s == 60 and record.spec["group_by"] == ["host"]
    stored = dataclasses.replace(record, id=3)
    again = from_record(stored)
    assert (again.id, again.thresholds, again.policy) == (3, rule.thresholds, rule.policy)
    assert to_body(stored)["for"] == 60


@pytest.mark.parametrize("row", default_rule_rows(0.0), ids=lambda r: r["builtin"])
def test_every_default_rule_is_a_valid_rule(row):
    values = {**row, "id": 1}
    for name in ("spec", "labels", "annotations", "channels"):
        values[name] = json.loads(values[name])
    rule = from_record(RuleRecord(**values))
    assert rule.builtin == row["builtin"] and rule.policy.no_data == "ok"
