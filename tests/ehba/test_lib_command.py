"""The ``card`` management command passes everything through to the card CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def test_call_command_passes_arguments_through(tmp_path):
    out = StringIO()
    call_command(
        "card",
        f"--dir={tmp_path}",
        "issue",
        "--lanr", "123456601",
        "--given-name", "Max",
        "--surname", "Mustermann",
        "--json",
        stdout=out,
    )  # fmt: skip
    card_id = json.loads(out.getvalue())["card_id"]
    out = StringIO()
    call_command("card", "--dir", str(tmp_path), "status", card_id, stdout=out)
    assert "Transport-PIN" in out.getvalue()


def test_settings_directory_is_the_default(tmp_path, settings):
    settings.EHBA_DIR = tmp_path / "from-settings"
    call_command("card", "pki", "init", stdout=StringIO())
    assert (tmp_path / "from-settings" / "pki" / "state.json").exists()


def test_errors_raise_command_error(tmp_path):
    with pytest.raises(CommandError):
        call_command(
            "card", "--dir", str(tmp_path), "status", "0000", stdout=StringIO(), stderr=StringIO()
        )
