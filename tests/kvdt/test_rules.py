"""Per rule: a generated file that breaks exactly this rule, and one that does not."""

import io
import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvportal.kvdt import INJECTABLE, RULES, generate, validate_file
from kvportal.kvdt.messages import FEHLER, INFO, WARNUNG

from .conftest import BSNR, QUARTER, TODAY


def check(data: bytes, **kwargs):
    kwargs.setdefault("today", TODAY)
    return validate_file(io.BytesIO(data), **kwargs)


def test_clean_file_passes(clean_file):
    report = check(clean_file, expected_quarter=QUARTER, expected_bsnr=BSNR)
    assert report.messages == []
    assert report.status == 0
    assert report.quarter == QUARTER
    assert report.bsnrs[0] == BSNR and len(report.bsnrs) == 2


@pytest.mark.parametrize("rule", sorted(INJECTABLE))
def test_injected_rule_is_reported_alone(make_file, rule):
    report = check(make_file(rule))
    assert report.rules() == {rule}, [m.text for m in report.messages]
    severity = RULES[rule][0]
    assert {m.severity for m in report.messages} == {severity}
    expected_status = {FEHLER: 2, WARNUNG: 1, INFO: 0}[severity]
    assert report.status == expected_status


@pytest.mark.parametrize("rule", sorted(INJECTABLE))
def test_same_seed_without_injection_does_not_break_rule(make_file, rule):
    report = check(make_file())
    assert rule not in report.rules()
    assert report.status == 0


def test_every_injectable_rule_is_documented():
    assert set(INJECTABLE) <= set(RULES)


def test_several_rules_at_once(make_file):
    report = check(make_file("324", "715", "878", "SYN-LEN"))
    assert report.rules() == {"324", "715", "878", "SYN-LEN"}
    assert report.status == 2


def test_messages_carry_location_and_patient_number(make_file):
    report = check(make_file("324"))
    (message,) = report.messages
    assert message.satzart == "0101"
    assert message.field == "5000"
    assert message.patient_number == "000001"
    assert message.line is not None and message.line > 100
    assert message.severity == "F"
    assert "Quartal" in message.text


def test_expected_quarter_mismatch(clean_file):
    report = check(clean_file, expected_quarter=QUARTER.next())
    assert report.rules() == {"KV-QUARTAL"}
    assert report.status == 2
    assert report.quarter == QUARTER


def test_expected_bsnr_mismatch(clean_file):
    report = check(clean_file, expected_bsnr="951234600")  # the NBSNR, not the billing one
    assert report.rules() == {"KV-BSNR"}
    assert report.status == 2


def test_future_dates_depend_on_today(clean_file):
    assert check(clean_file, today=QUARTER.start).rules() == {"304"}
    assert check(clean_file, today=QUARTER.end.replace(day=30)).rules() == {"304"}
    assert check(clean_file, today=TODAY).rules() == set()


def test_previous_quarter_cases_skip_besa_cross_checks(make_file):
    # a Nachzügler (4101 != 9204) may name doctors no longer in besa (rules 715/716 skipped)
    data = make_file("715").replace(
        b"0144101" + QUARTER.kvdt.encode(), b"0144101" + QUARTER.previous().kvdt.encode(), 1
    )
    report = check(data)
    assert "715" not in report.rules()
    assert "324" in report.rules()  # the Leistungstage are not in the case's quarter


def test_no_patient_names_or_insurance_numbers_in_messages(make_file):
    from kvportal.kvdt import iter_records

    data = make_file(*(r for r in INJECTABLE if r not in ("STR-ENDE", "STR-REIHENFOLGE")), cases=12)
    report = check(data)
    assert report.status == 2
    secrets = set()
    for record in iter_records(io.BytesIO(data)):
        for fk in ("3101", "3102", "3103", "3119", "3107", "3112", "3113"):
            value = record.get(fk)
            if value and len(value) > 3:
                secrets.add(value.strip())
    assert secrets
    texts = " ".join(m.text for m in report.messages)
    leaked = [s for s in secrets if s in texts]
    assert leaked == []


# Pairs whose injections touch the same element, so one hides the other (e.g. without a
# valid quarter 4101 the Leistungstage cannot be checked against it).
MASKING = {
    frozenset(p)
    for p in [
        ("SYN-LEN", "SYN-ZEICHEN"), ("SYN-BLANK", "STR-MUSS"), ("016", "324"), ("016", "480"),
        ("021", "313"), ("022", "486"), ("049", "162"), ("050", "836"), ("304", "406"),
        ("356", "405"), ("426", "354"), ("486", "STR-ZUORDNUNG"), ("486", "856"), ("486", "860"),
        ("532", "KV-EMPFAENGER"), ("715", "837"), ("716", "859"), ("743", "750"),
        ("STR-REIHENFOLGE", "STR-ENDE"), ("320", "405"), ("404", "405"), ("405", "406"),
        ("486", "KVDT-FK3674"),
        # a file holds one SADT package: the caseless one of KVDT-FSATZ cannot be added to it
        ("KVDT-FSATZ", "048"), ("KVDT-FSATZ", "048a"), ("KVDT-FSATZ", "709"), ("048", "048a"),
    ]
}  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(sorted(INJECTABLE)), min_size=2, max_size=5), st.integers(1, 50))
def test_combined_injections_are_all_reported(rules, seed):
    assume(not any(frozenset(p) in MASKING for p in itertools.combinations(rules, 2)))
    data = generate(8, seed=seed, quarter=QUARTER, bsnr=BSNR, inject=rules)
    assert check(data).rules() == rules
