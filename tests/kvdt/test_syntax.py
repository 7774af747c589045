"""Hand-written files: line syntax, abort cases, record order."""

import io

from kvportal.kvdt import validate_file

from .conftest import TODAY


def line(fk: str, value: str) -> bytes:
    content = value.encode("iso-8859-15")
    return b"%03d%s%s\r\n" % (9 + len(content), fk.encode(), content)


def check(data: bytes):
    return validate_file(io.BytesIO(data), today=TODAY)


def test_length_prefix_counts_iso_8859_15_bytes():
    # "ü" is one byte: 3 + 4 + 34 + 2 = 43 (example of the KBV test practice)
    assert line("0203", "H+H Topp-Glücklich, KBV-Testpraxis").startswith(b"043")


def test_empty_file_aborts():
    report = check(b"")
    assert report.status == 3
    assert report.rules() == {"ABBRUCH-LEER"}


def test_unix_line_ends_abort():
    report = check(b"0138000con0\n017910320260402\n")
    assert report.status == 3
    assert report.rules() == {"ABBRUCH-CRLF"}


def test_file_not_starting_with_con0_aborts():
    report = check(line("8000", "besa") + line("0201", "951234500"))
    assert report.status == 3
    assert report.rules() == {"ABBRUCH-START"}
    assert report.to_dict()["status"] == 3


def test_binary_garbage_aborts():
    report = check(bytes(range(256)) * 50)
    assert report.status == 3


def test_truncated_file_is_faulty(clean_file):
    data = clean_file[: len(clean_file) // 2]
    data = data[: data.rfind(b"\r\n") + 2]
    report = check(data)
    assert "STR-ENDE" in report.rules()
    assert report.status == 2


def test_missing_final_crlf(clean_file):
    report = check(clean_file[:-2])
    assert report.rules() == {"SYN-CRLF"}


def test_overlong_line_is_reported_and_memory_is_bounded(clean_file):
    head, tail = clean_file.split(b"8000adt9\r\n")
    junk = b"9999901" + b"x" * 3_000_000 + b"\r\n"
    report = check(head + b"8000adt9\r\n" + junk + tail)
    assert "SYN-LEN" in report.rules()
    assert report.status == 2


def test_wrong_record_order():
    data = line("8000", "con0") + line("9103", "20260402") + line("9106", "4") + line("9132", "1")
    data += line("8000", "adt9") + line("8000", "con9")
    report = check(data)
    assert "STR-REIHENFOLGE" in report.rules()


def test_progress_reports_bytes(clean_file):
    seen = []
    report = validate_file(io.BytesIO(clean_file * 1), today=TODAY, progress=seen.append)
    assert seen and seen[-1] == len(clean_file)
    assert seen == sorted(seen)
    assert report.stats["bytes"] == len(clean_file)


def test_accepts_path(tmp_path, clean_file):
    path = tmp_path / "Z01951234500_01.07.2026_10.00.con"
    path.write_bytes(clean_file)
    assert validate_file(path, today=TODAY).status == 0
    assert validate_file(str(path), today=TODAY).status == 0


def test_unreadable_path_aborts(tmp_path):
    report = validate_file(tmp_path / "nope.con", today=TODAY)
    assert report.status == 3
    assert report.rules() == {"ABBRUCH-LESEN"}


def test_message_flood_is_capped(clean_file):
    from kvportal.kvdt.validator import MAX_MESSAGES

    bad = line("9901", "x ")  # trailing blank: a warning per line
    head, tail = clean_file.split(line("8000", "adt9"))
    data = head + bad * (MAX_MESSAGES + 500) + line("8000", "adt9") + tail
    report = check(data)
    assert len(report.messages) == MAX_MESSAGES + 1
    assert report.messages[-1].rule == "KV-MELDUNGEN"
    assert report.counts["W"] == MAX_MESSAGES + 500
    assert report.status == 1


def test_too_many_syntax_errors_abort():
    header = line("8000", "con0") + line("9103", "20260402") + line("9106", "4")
    report = check(header + b"garbage\r\n" * 3000)
    assert report.status == 3
    assert "ABBRUCH-SYNTAX" in report.rules()


def test_field_with_only_blanks_is_empty(clean_file):
    head, tail = clean_file.split(line("8000", "adt9"))
    report = check(head + line("9901", "   ") + line("8000", "adt9") + tail)
    assert report.rules() == {"SYN-LEER"}


def test_postcode_not_required_for_foreign_card(make_file):
    data = make_file("479")
    assert check(data).rules() == {"479"}
    # first case is a 0101 with card read (4109): a foreign residence country lifts rule 479
    foreign = data.replace(line("3114", "D"), line("3114", "A"), 1)
    assert check(foreign).rules() == set()


def test_place_of_service_in_0103_is_a_satztabelle_field_not_r837_r859(make_file):
    """R837/R859 name 0101, 0102, 0104 only; the 0103 Satztabelle requires 5098/5099 per
    GNR, which the XPM reports as KVDT-FEHL."""
    data = make_file()
    records = data.split(b"0138000")
    for i, record in enumerate(records):
        if record.startswith(b"0103"):
            lines = record.split(b"\r\n")
            records[i] = b"\r\n".join(ln for ln in lines if ln[3:7] not in (b"5098", b"5099"))
    report = check(b"0138000".join(records))
    assert report.rules() == {"KVDT-FEHL"}
    assert {m.field for m in report.messages} == {"5098", "5099"}
    assert check(data).rules() == set()


def test_progress_callback_exceptions_propagate(clean_file):
    class Cancelled(Exception):
        pass

    def cancel(_n):
        raise Cancelled

    import pytest

    with pytest.raises(Cancelled):
        validate_file(io.BytesIO(clean_file), today=TODAY, progress=cancel)


SKELETON = """0138000con0
017910320260402
01091064
01091321
0138000besa
0180201198212400
0480203Praxis Dr. med. Heribert Topp-Glücklich
0180212776299002
0230211Topp-Glücklich
0138000rvsa
0180201198212400
01003000
0138000adt0
0240105Y/1/2601/36/999
011910219
0199212ADT0126.01
01380000101
0193101Mustermann
0143102Erika
017310319640812
0193119X110319454
01031081
0103110W
014410112026
014410438825
011410600
0184111101575519
011413100
011413200
01041210
011412200
011423900
017500020260115
014500103000
0185098198212400
0185099776299002
0146001J06.9
0106003G
0138000adt9
0138000con9
"""


def test_syntax_skeleton_of_the_research_notes():
    # the skeleton is syntactically valid but lacks fields the notes list as missing
    data = SKELETON.replace("\n", "\r\n").encode("iso-8859-15")
    report = check(data)
    assert not {r for r in report.rules() if r.startswith(("SYN", "FMT", "ABBRUCH"))}
    assert report.rules() == {"STR-MUSS", "858", "479", "KV-EMPFAENGER"}
    missing = {m.field for m in report.messages if m.rule == "STR-MUSS"}
    assert {"0205", "0215", "0216", "0208", "0102", "9204"} <= missing
    assert report.stats == {"cases": 1, "services": 1, "diagnoses": 1, "lines": 40, "bytes": 608}
    assert report.bsnrs == ["198212400"]
    assert report.messages == sorted(report.messages, key=lambda m: m.line)
