"""The Django management command `kvportal kvdt` delegates to the Django-free CLI."""

import io
import json
import os
import subprocess
import sys

from django.core.management import call_command

from kvportal.kvdt import generate

from .conftest import BSNR, QUARTER


def test_call_command_check_json(tmp_path):
    path = tmp_path / "a.con"
    path.write_bytes(generate(5, seed=1, quarter=QUARTER, bsnr=BSNR, inject=["486"]))
    out = io.StringIO()
    from kvportal.kvdt.management.commands.kvdt import Command

    command = Command(stdout=out)
    call_command(command, "check", str(path), "--json", "--today", "2026-08-01")
    data = json.loads(out.getvalue())
    assert data["status"] == command.exit_code == 2
    assert {m["rule"] for m in data["messages"]} == {"486"}


def test_kvportal_console_script_exit_code(tmp_path):
    path = tmp_path / "b.con"
    path.write_bytes(generate(5, seed=1, quarter=QUARTER, bsnr=BSNR, inject=["743"]))
    script = os.path.join(os.path.dirname(sys.executable), "kvportal")
    env = {**os.environ, "KVPORTAL_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "kvportal.settings"}
    proc = subprocess.run(
        [script, "kvdt", "check", str(path), "--today", "2026-08-01"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "mit Warnungen" in proc.stdout
