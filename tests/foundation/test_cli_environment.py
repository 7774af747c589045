"""The `kvportal` command as a newcomer meets it: in a fresh shell, without any KVPORTAL_*
variable. Offline tools work; the others end with one German line and exit code 78."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

KVPORTAL = Path(sys.executable).with_name("kvportal")


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", **env}
    command = [str(KVPORTAL)] if KVPORTAL.exists() else [sys.executable, "-m", "kvportal"]
    return subprocess.run(
        [*command, *args],
        cwd=tmp_path,
        env=fresh,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_kvdt_generate_and_check_need_no_configuration(tmp_path):
    made = run(
        tmp_path,
        "kvdt",
        "generate",
        "--cases",
        "3",
        "--seed",
        "1",
        "--bsnr",
        "721234500",
        "--out",
        "t.con",
    )
    no_traceback(made)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "t.con").stat().st_size > 0
    checked = run(tmp_path, "kvdt", "check", "t.con")
    no_traceback(checked)
    assert checked.returncode in (0, 1)  # a check result, not a configuration error
    assert "KVPORTAL_SECRET_KEY" not in checked.stderr


def test_kvdt_usage_and_input_errors_are_not_check_results(tmp_path):
    missing = run(tmp_path, "kvdt", "check", "fehlt.con")
    no_traceback(missing)
    assert missing.returncode == 66
    assert "gibt es nicht" in missing.stderr
    usage = run(tmp_path, "kvdt", "pruefen")
    no_traceback(usage)
    assert usage.returncode == 64


def test_card_tools_need_no_configuration(tmp_path):
    result = run(tmp_path, "card", "--dir", str(tmp_path / "ehba"), "list")
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "Keine Testkarten" in result.stdout


def test_help_needs_no_secret(tmp_path):
    result = run(tmp_path, "help")
    no_traceback(result)
    assert result.returncode == 0
    assert "purge_expired" in result.stdout  # the portal's own commands are listed


@pytest.mark.parametrize("command", [["migrate"], ["purge_expired", "--dry-run"], ["demo"]])
def test_portal_commands_name_the_missing_variable(tmp_path, command):
    result = run(tmp_path, *command)
    no_traceback(result)
    assert result.returncode == 78
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "KVPORTAL_SECRET_KEY ist nicht gesetzt" in lines[0]
    assert "export KVPORTAL_SECRET_KEY" in lines[0]
    assert not (tmp_path / "var").exists()  # nothing was written


def test_database_not_set_up_is_one_line(tmp_path):
    result = run(tmp_path, "otp_code", "niemand", KVPORTAL_DEBUG="1")
    no_traceback(result)
    assert result.returncode == 69
    assert "kvportal migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_development_commands_run_with_debug(tmp_path):
    assert run(tmp_path, "migrate", "-v0", KVPORTAL_DEBUG="1").returncode == 0
    result = run(tmp_path, "otp_code", "niemand", KVPORTAL_DEBUG="1")
    no_traceback(result)
    assert result.returncode == 1
    assert "Kein zweiter Faktor" in result.stderr


def test_kim_open_needs_no_configuration(tmp_path):
    result = run(tmp_path, "kim", "open", "fehlt.eml")
    no_traceback(result)
    assert result.returncode == 64
    assert "KVPORTAL_SECRET_KEY" not in result.stderr
    assert "fehlt.eml" in result.stderr
