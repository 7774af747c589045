"""Command line (`python -m kvportal.kvdt`, Django-free `main`): exit code = check status."""

import io
import json
import subprocess
import sys

from kvportal.kvdt import generate
from kvportal.kvdt.cli import EXIT_USAGE, main

from .conftest import BSNR, QUARTER


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, *inject: str, name: str = "f.con"):
    path = tmp_path / name
    path.write_bytes(generate(8, seed=4, quarter=QUARTER, bsnr=BSNR, inject=inject))
    return path


def test_check_ok_prints_german_protocol(tmp_path):
    code, out, _ = run(
        "check", str(write(tmp_path)), "--quarter", QUARTER.kvdt, "--today", "2026-08-01"
    )
    assert code == 0
    assert "Prüfprotokoll" in out
    assert "ohne Beanstandung" in out
    assert "Behandlungsfälle:" in out


def test_exit_codes_follow_status(tmp_path):
    assert run("check", str(write(tmp_path, "743")), "--today", "2026-08-01")[0] == 1
    code, out, _ = run("check", str(write(tmp_path, "324")), "--today", "2026-08-01")
    assert code == 2
    assert "F [324] Zeile" in out
    bad = tmp_path / "bad.con"
    bad.write_bytes(b"\x00\x01garbage")
    assert run("check", str(bad))[0] == 3


def test_quarter_mismatch(tmp_path):
    code, _, _ = run("check", str(write(tmp_path)), "--quarter", "12026", "--today", "2026-08-01")
    assert code == 2


def test_json_output(tmp_path):
    code, out, _ = run("check", str(write(tmp_path, "715")), "--json", "--today", "2026-08-01")
    data = json.loads(out)
    assert code == data["status"] == 2
    assert set(data["stats"]) == {"cases", "services", "diagnoses", "lines", "bytes"}
    assert data["quarter"] == QUARTER.kvdt
    assert data["bsnrs"][0] == BSNR
    (message,) = data["messages"]
    assert message["rule"] == "715"
    assert message["severity"] == "F"
    assert message["field"] == "5099"
    assert message["patient_number"] == "000001"


def test_missing_file(tmp_path):
    code, _, err = run("check", str(tmp_path / "nope.con"))
    assert code == 66  # not a check result (0–3): the file is missing
    assert "gibt es nicht" in err


def test_generate(tmp_path):
    out_path = tmp_path / "gen.con"
    code, _out, _ = run(
        "generate", "--cases", "6", "--seed", "9", "--quarter", "22026", "--out", str(out_path)
    )
    assert code == 0
    assert out_path.read_bytes() == generate(6, seed=9, quarter=QUARTER, bsnr="951234500")
    code, _, _ = run(
        "generate",
        "--cases",
        "6",
        "--quarter",
        "22026",
        "--inject",
        "324,715",
        "--out",
        str(out_path),
    )
    assert code == 0
    assert run("check", str(out_path), "--today", "2026-08-01")[0] == 2


def test_usage_errors(tmp_path):
    assert (
        run("generate", "--cases", "3", "--inject", "xyz", "--out", str(tmp_path / "a"))[0]
        == EXIT_USAGE
    )
    assert run("check", "f.con", "--quarter", "52026")[0] == EXIT_USAGE
    assert run()[0] == EXIT_USAGE


def test_python_dash_m(tmp_path):
    path = write(tmp_path, "878")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kvportal.kvdt",
            "check",
            str(path),
            "--json",
            "--today",
            "2026-08-01",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["messages"][0]["rule"] == "878"
