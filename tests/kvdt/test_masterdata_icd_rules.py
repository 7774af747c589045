"""ICD-10-GM rules (SDICD) of the ADT/KADT rule tables (489-492, 729, 761, 817) and of the
HDRG rule table (493, 494, 498, 499, 735, 737).

Break/no-break from the rule texts (KVDT-Datensatzbeschreibung 6.03) with the severities of the
XPM catalogue (MeldungenKVDT.xml): 489/490/491/761/817 and 493/494/737 Warnung, 492/729 and
498/499/735 Fehler. The KBV test files Z01 (ADT, 4/2026) and Z30 (Hybrid-DRG) are checked
against a synthetic SDICD in the published format (schema icd) that lists every code of the
file; each test gives one code the property the rule names.
"""

from __future__ import annotations

import io
import re

import pytest

from kvportal.kvdt import validate_file
from kvportal.kvdt.masterdata import MasterDataError, load_directory, load_sdicd
from tests.kvdt.stammdaten import diagnose, sdicd
from tests.kvdt.test_masterdata_rules import check, file_values, hits
from tests.kvdt.test_rule_table import CHECK_DATE, Z01, dump, load, put

Z30 = "Z30123456699_27.10.2026_12.00.con"
ICD_RULES = {"489", "490", "491", "492", "729", "761", "817"}
HDRG_RULES = {"493", "494", "498", "499", "735", "737"}


@pytest.fixture
def z01():
    return load(Z01)


def codes_of(records) -> set[str]:
    return file_values(records, "6001") | file_values(records, "3673")


def icd(records, **special: dict) -> bytes:
    """SDICD with every code of the file; `special` = code (with _ for .) -> properties."""
    props = {k.replace("_", "."): v for k, v in special.items()}
    return sdicd(diagnose(c, **props.get(c, {})) for c in sorted(codes_of(records) | set(props)))


def cases_with(records, code: str) -> list:
    return [rec for rec in records if any(f == "6001" and v == code for f, v in rec)]


def test_loader_reads_the_elements_the_rules_use(tmp_path):
    path = tmp_path / "ICDStamm2026.xml"
    path.write_bytes(
        sdicd(
            [
                diagnose(
                    "P07.3",
                    sex="w",
                    sex_error="k",
                    age_low=(0, "Tag"),
                    age_high=(28, "Tag"),
                    age_error="m",
                    rare=True,
                    empty=False,
                    reportable=True,
                ),
                diagnose("G63.3*"),
                diagnose("E10.40", notation="+"),
            ]
        )
    )
    codes = load_sdicd(path).codes
    p = codes["P07.3"]
    assert (p.sex, p.sex_error, p.age_low, p.age_high, p.age_error) == ("w", "k", "0T", "28T", "m")
    assert p.rare and not p.empty and p.reportable and p.checked
    # a sign at the end of icd_code is its notation; the KVDT field carries the code without it
    assert codes["G63.3"].notation == "*" and "G63.3*" not in codes
    assert codes["E10.40"].notation == "+"


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        ('<altersbezug_fehlerart V="x"/>', "altersbezug_fehlerart muss k oder m sein"),
        ('<untere_altersgrenze V="12" U="Monat"/>', "untere_altersgrenze braucht V"),
        ('<notationskennzeichen V="#"/>', "notationskennzeichen muss + oder * oder ! sein"),
    ],
)
def test_bad_elements_give_a_german_message(tmp_path, element, expected):
    path = tmp_path / "ICDStamm2026.xml"
    path.write_bytes(
        sdicd([f'<diagnose><icd_code V="A00"/><abrechenbar V="j"/>{element}</diagnose>'])
    )
    with pytest.raises(MasterDataError, match=re.escape(expected)) as exc:
        load_sdicd(path)
    assert "ICDStamm2026.xml, Zeile 1" in str(exc.value)


def test_plain_sdicd_gives_no_icd_message_and_the_rules_ran(tmp_path, z01):
    report = check(tmp_path, z01, icd=icd(z01))
    assert not ICD_RULES & report.rules()
    assert not ICD_RULES & set(report.not_checked)


def test_without_sdicd_the_icd_rules_are_named_as_not_checked(z01):
    report = validate_file(io.BytesIO(dump(z01)), today=CHECK_DATE)
    assert set(report.not_checked) >= ICD_RULES | HDRG_RULES
    assert any("ICD-10-GM (SDICD)" in r and "489" in r for r in report.not_checked_reasons)


# ---- 489 / 761: age limits, error kind m (489) or k (761); Höchstalter at the start,
# Mindestalter at the end of the quarter


def _born(records, code: str, birth: str) -> int:
    cases = cases_with(records, code)
    for rec in cases:
        put(rec, "3103", birth)
    return len(cases)


@pytest.mark.parametrize(("kind", "rule"), [("m", "489"), ("k", "761")])
def test_age_below_the_lower_limit(tmp_path, z01, kind, rule):
    n = _born(z01, "G30.1", "19610101")  # 65 at the end of 4/2026
    spec = {"age_low": (66, "Jahr"), "age_error": kind}
    found = hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), rule)
    assert n and len(found) == n and {m.severity for m in found} == {"W"}
    assert "G30.1" in found[0].text and "ab 66 Jahre" in found[0].text
    other = "761" if rule == "489" else "489"
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), other)


def test_minimum_age_is_reached_by_the_end_of_the_quarter(tmp_path, z01):
    _born(z01, "G30.1", "19601201")  # turns 66 on 1 Dec 2026, inside the quarter
    spec = {"age_low": (66, "Jahr"), "age_error": "m"}
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "489")


def test_maximum_age_is_taken_at_the_start_of_the_quarter(tmp_path, z01):
    _born(z01, "G30.1", "19601201")  # 65 on 1 Oct 2026, 66 at the end of the quarter
    assert not hits(
        check(tmp_path, z01, icd=icd(z01, G30_1={"age_high": (65, "Jahr"), "age_error": "m"})),
        "489",
    )
    found = hits(
        check(tmp_path, z01, icd=icd(z01, G30_1={"age_high": (64, "Jahr"), "age_error": "m"})),
        "489",
    )
    assert found and "bis 64 Jahre" in found[0].text


def test_age_limit_in_days(tmp_path, z01):
    spec = {"age_low": (0, "Tag"), "age_high": (28, "Tag"), "age_error": "m"}
    found = hits(check(tmp_path, z01, icd=icd(z01, G31_9=spec)), "489")
    assert found and len(found) == len(cases_with(z01, "G31.9"))
    assert "bis 28 Tage" in found[0].text


def test_no_age_rule_without_error_kind_or_with_partial_birth_date(tmp_path, z01):
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1={"age_low": (99, "Jahr")})), "489")
    _born(z01, "G30.1", "19610000")  # JJJJ0000: the age is not known to the day
    spec = {"age_low": (66, "Jahr"), "age_error": "m"}
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "489")


# ---- 490: krankheit_in_mitteleuropa_sehr_selten V="j"


def test_490_rare_in_central_europe(tmp_path, z01):
    found = hits(check(tmp_path, z01, icd=icd(z01, A02_1={"rare": True})), "490")
    assert len(found) == 1 and found[0].severity == "W" and "A02.1" in found[0].text
    assert not hits(check(tmp_path, z01, icd=icd(z01, A02_1={"rare": False})), "490")


# ---- 491 (Muss) / 817 (Kann): geschlechtsbezug


def test_491_wrong_sex_needs_a_diagnosenausnahmetatbestand(tmp_path, z01):
    n = len(cases_with(z01, "G30.1"))  # all male
    spec = {"sex": "w", "sex_error": "m"}
    found = hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "491")
    assert n and len(found) == n and {m.severity for m in found} == {"W"}
    assert "weibliche" in found[0].text
    for rec in cases_with(z01, "G30.1"):
        i = next(i for i, (f, v) in enumerate(rec) if f == "6001" and v == "G30.1")
        rec.insert(i + 1, ["6008", "Zustand nach Geschlechtsumwandlung"])
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "491")


def test_491_matching_sex_is_fine(tmp_path, z01):
    spec = {"sex": "w", "sex_error": "m"}  # O21.9 (pregnancy) for female patients only
    report = check(tmp_path, z01, icd=icd(z01, O21_9=spec))
    assert not hits(report, "491") and not hits(report, "817")


def test_817_sex_kann_fehler_except_u_x_d(tmp_path, z01):
    spec = {"sex": "w", "sex_error": "k"}
    found = hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "817")
    assert found and len(found) == len(cases_with(z01, "G30.1")) and found[0].severity == "W"
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "491")
    for rec in cases_with(z01, "G30.1"):
        put(rec, "3110", "D")
    assert not hits(check(tmp_path, z01, icd=icd(z01, G30_1=spec)), "817")


# ---- 492: schlüsselnummer_mit_inhalt_belegt V="n"


def test_492_code_without_content(tmp_path, z01):
    found = hits(check(tmp_path, z01, icd=icd(z01, A01_1={"empty": True})), "492")
    assert len(found) == 1 and found[0].severity == "F"
    assert not hits(check(tmp_path, z01, icd=icd(z01, A01_1={"empty": False})), "492")


# ---- 729: a secondary code (* or !) needs a primary code (none or +) in the case


def test_729_only_secondary_codes(tmp_path, z01):
    alone = len(cases_with(z01, "G31.9")) - 1  # the 0102 with F41.2 has a primary code
    found = hits(check(tmp_path, z01, icd=icd(z01, G31_9={"notation": "*"})), "729")
    assert alone and len(found) == alone and {m.severity for m in found} == {"F"}
    # a cross code (+) is primary
    report = check(tmp_path, z01, icd=icd(z01, G31_9={"notation": "!"}, F41_2={"notation": "+"}))
    assert len(hits(report, "729")) == alone


def test_729_not_when_every_code_is_primary(tmp_path, z01):
    assert not hits(check(tmp_path, z01, icd=icd(z01, G31_9={"notation": "+"})), "729")


# ---- Hybrid-DRG (6009/6011): 493, 494, 498, 499, 735, 737


def hdrg_check(tmp_path, records=None, **special):
    records = records if records is not None else load(Z30)
    codes = file_values(records, "6009") | file_values(records, "6011")
    props = {k.replace("_", "."): v for k, v in special.items()}
    diagnoses = [diagnose(c, **props.get(c, {})) for c in sorted(codes) if props.get(c) != "-"]
    (tmp_path / "ICDStamm2026.xml").write_bytes(sdicd(diagnoses))
    return validate_file(
        io.BytesIO(dump(records)), today=CHECK_DATE, masterdata=load_directory(tmp_path)
    )


def test_hdrg_plain_sdicd_is_clean_and_the_rules_ran(tmp_path):
    report = hdrg_check(tmp_path)
    assert not HDRG_RULES & report.rules()
    assert not HDRG_RULES & set(report.not_checked)


def test_499_hdrg_code_not_billable_or_missing(tmp_path):
    found = hits(hdrg_check(tmp_path, I80_1={"billable": False}), "499")
    assert len(found) == 1 and found[0].severity == "F" and "I80.1" in found[0].text
    assert len(hits(hdrg_check(tmp_path, I80_1="-"), "499")) == 1


def test_493_hdrg_age_at_begin_and_end_of_the_service(tmp_path):
    # Müller, born 1961-04-04, 5028 = 2026-10-06: 65 years old
    assert (
        len(hits(hdrg_check(tmp_path, I80_1={"age_high": (64, "Jahr"), "age_error": "m"}), "493"))
        == 1
    )
    assert not hits(hdrg_check(tmp_path, I80_1={"age_high": (65, "Jahr"), "age_error": "m"}), "493")
    found = hits(hdrg_check(tmp_path, I80_1={"age_low": (70, "Jahr"), "age_error": "m"}), "493")
    assert len(found) == 1 and found[0].severity == "W"


def test_494_498_hdrg_rare_and_empty(tmp_path):
    report = hdrg_check(tmp_path, I80_1={"rare": True, "empty": True})
    assert [m.severity for m in hits(report, "494")] == ["W"]
    assert [m.severity for m in hits(report, "498")] == ["F"]
    assert not hits(report, "490") and not hits(report, "492")


def test_735_hdrg_only_a_secondary_code(tmp_path):
    found = hits(hdrg_check(tmp_path, I80_1={"notation": "*"}), "735")
    assert len(found) == 1 and found[0].severity == "F"
    assert not hits(hdrg_check(tmp_path, I80_1={"notation": "+"}), "735")


def test_737_hdrg_sex_kann_fehler(tmp_path):
    found = hits(hdrg_check(tmp_path, I80_1={"sex": "w", "sex_error": "k"}), "737")
    assert len(found) == 1 and found[0].severity == "W"
    records = load(Z30)
    put(records[2], "3110", "X")
    assert not hits(hdrg_check(tmp_path, records, I80_1={"sex": "w", "sex_error": "k"}), "737")


# ---- KADT (0109): the KADT rule table has 489-492, 729, 761 and 817 too

Z05 = "Z05123456699_27.10.2026_12.00.con"


def test_kadt_case_gets_the_icd_rules(tmp_path):
    records = load(Z05)
    kadt = next(rec for rec in records if rec[0][1] == "0109")
    assert ("6001", "L50.0") in [tuple(item) for item in kadt]
    report = check(tmp_path, records, icd=icd(records))
    assert not ICD_RULES & report.rules()
    spec = {"sex": "w", "sex_error": "m", "rare": True}
    report = check(tmp_path, records, icd=icd(records, L50_0=spec))
    assert {m.satzart for m in hits(report, "491")} == {"0109"}
    assert {m.satzart for m in hits(report, "490")} >= {"0109"}
