"""Testabrechnung comparison, from the issue text: "what is new, fixed and unchanged against the
previous run for the same BSNR and quarter (compare by rule + record/field + patient number,
not line numbers)"."""

from kvportal.billing.comparison import compare


def msg(rule, line, field="3000", patient="12", satzart="0101"):
    return {
        "rule": rule,
        "line": line,
        "satzart": satzart,
        "field": field,
        "patient_number": patient,
    }


def test_first_run_everything_is_new():
    result = compare(None, [msg("R324", 4)])
    assert result["first_run"] and len(result["new"]) == 1 and not result["fixed"]


def test_moved_line_is_unchanged_not_new_and_fixed():
    result = compare([msg("R324", 40)], [msg("R324", 52)])
    assert [m["line"] for m in result["unchanged"]] == [52]
    assert result["new"] == [] and result["fixed"] == []


def test_gone_is_fixed_and_added_is_new():
    before = [msg("R324", 4, patient="1"), msg("R480", 9, patient="2")]
    after = [msg("R480", 11, patient="2"), msg("R750", 20, patient="3")]
    result = compare(before, after)
    assert [m["rule"] for m in result["fixed"]] == ["R324"]
    assert [m["rule"] for m in result["new"]] == ["R750"]
    assert [m["rule"] for m in result["unchanged"]] == ["R480"]


def test_same_rule_other_patient_or_field_is_a_different_message():
    result = compare([msg("R324", 4, patient="1")], [msg("R324", 4, patient="2")])
    assert len(result["new"]) == 1 and len(result["fixed"]) == 1
    result = compare([msg("R324", 4, field="4101")], [msg("R324", 4, field="4102")])
    assert len(result["new"]) == 1 and len(result["fixed"]) == 1


def test_repeated_messages_are_counted():
    result = compare([msg("R324", 1), msg("R324", 2)], [msg("R324", 5)])
    assert len(result["unchanged"]) == 1 and len(result["fixed"]) == 1 and not result["new"]
