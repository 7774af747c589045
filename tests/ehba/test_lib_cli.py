"""``card`` command line (Django-free entry point ``cli.main``)."""

from __future__ import annotations

import argparse
import json
from io import StringIO

import pytest

from kvportal.cardlib import cli
from kvportal.cardlib.testpki import TestPKI
from kvportal.cardlib.tokens import verify_login_token
from kvportal.cardlib.validation import RequiredSigner, validate_pdf_signatures
from tests.ehba.conftest import make_pdf


class Runner:
    def __init__(self, directory):
        self.directory = directory
        self.prompts: list[str] = []
        self.answers: list[str] = []

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        out, err = StringIO(), StringIO()

        def getpass(prompt: str) -> str:
            self.prompts.append(prompt)
            return self.answers.pop(0)

        code = cli.main(
            ["--dir", str(self.directory), *argv], stdout=out, stderr=err, getpass=getpass
        )
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def run(tmp_path):
    return Runner(tmp_path / "ehba")


def issue(run) -> dict:
    code, out, _ = run(
        "issue",
        "--lanr", "123456601",
        "--given-name", "Max",
        "--surname", "Mustermann",
        "--telematik-id", "1-114777",
        "--transport-pin-ch", "111111",
        "--transport-pin-qes", "222222",
        "--puk-ch", "12121212",
        "--json",
    )  # fmt: skip
    assert code == 0
    return json.loads(out)


def test_issue_activate_status(run):
    data = issue(run)
    assert data["transport_pin_ch"] == "111111" and len(data["puk_qes"]) == 8
    code, out, _ = run("status", "123456601", "--json")
    assert json.loads(out)["state"] == "transport"
    assert (
        run(
            "change-pin", data["card_id"], "--pin-type", "ch", "--old", "111111", "--new", "123456"
        )[0]
        == 0
    )
    # prompted: old, new, repeated new
    run.answers = ["222222", "654321", "654321"]
    code, out, _ = run("change-pin", "123456601", "--pin-type", "qes")
    assert code == 0 and "PIN.QES geändert" in out
    assert run.prompts[0].startswith("Bisherige PIN.QES")
    code, out, _ = run("status", "123456601")
    assert "einsatzbereit" in out and "1-114777" in out


def test_errors_are_german_with_exit_code(run):
    issue(run)
    code, _, err = run(
        "change-pin", "123456601", "--pin-type", "ch", "--old", "999999", "--new", "123456"
    )
    assert code == 1
    assert "Falsche Transport-PIN" in err and "2 Versuche" in err
    code, _, err = run("status", "000")
    assert code == 1 and "Keine Testkarte" in err
    run.answers = ["123456", "654321"]
    run("change-pin", "123456601", "--pin-type", "ch", "--old", "111111", "--new", "123456")
    code, _, err = run("change-pin", "123456601", "--pin-type", "ch", "--old", "123456")
    assert code == 1 and "stimmen nicht überein" in err


def test_sign_and_login(run, tmp_path):
    issue(run)
    run("change-pin", "123456601", "--pin-type", "ch", "--old", "111111", "--new", "123456")
    run("change-pin", "123456601", "--pin-type", "qes", "--old", "222222", "--new", "654321")
    files = []
    for i in range(3):
        f = tmp_path / f"antrag{i}.pdf"
        f.write_bytes(make_pdf(f"Antrag {i}"))
        files.append(f)
    run.answers = ["654321"]
    code, out, err = run("sign", "123456601", *map(str, files), "--out-dir", str(tmp_path / "out"))
    assert code == 0, err
    assert run.prompts == ["PIN.QES: "]  # one PIN entry for the batch
    pki = TestPKI.load(run.directory / "pki")
    signed = (tmp_path / "out" / "antrag1-signiert.pdf").read_bytes()
    report = validate_pdf_signatures(
        signed,
        original=files[1].read_bytes(),
        trust_roots=pki.trust_roots,
        revocation_check=pki.revocation_check,
        required_signers=[RequiredSigner("Max", "Mustermann", "1-114777")],
    )
    assert report.verdict == "valid"
    code, out, _ = run(
        "login", "123456601", "--challenge", "abc", "--audience", "https://p", "--pin", "123456"
    )
    ident = verify_login_token(
        out.strip(),
        expected_challenge="abc",
        audience="https://p",
        trust_anchors=pki.trust_anchors_login,
        revocation_check=pki.revocation_check,
    )
    assert ident.telematik_id == "1-114777"


def test_sign_batch_split_prompts_per_part(run, tmp_path):
    run(
        "issue", "--lanr", "1", "--given-name", "A", "--surname", "B", "--batch-size", "2",
        "--transport-pin-qes", "222222",
    )  # fmt: skip
    run("change-pin", "1", "--pin-type", "qes", "--old", "222222", "--new", "654321")
    files = []
    for i in range(3):
        f = tmp_path / f"d{i}.pdf"
        f.write_bytes(make_pdf(str(i)))
        files.append(str(f))
    run.answers = ["654321", "000000"]
    code, _out, err = run("sign", "1", *files)
    assert code == 1
    assert run.prompts == ["PIN.QES für Teilstapel 1 von 2: ", "PIN.QES für Teilstapel 2 von 2: "]
    assert "Abbruch bei Dokument 3 von 3" in err and "Falsche PIN.QES" in err
    assert (tmp_path / "d0-signiert.pdf").exists() and (tmp_path / "d1-signiert.pdf").exists()
    assert not (tmp_path / "d2-signiert.pdf").exists()


def test_unblock_revoke_follow_up_list(run):
    data = issue(run)
    run("change-pin", "123456601", "--pin-type", "ch", "--old", "111111", "--new", "123456")
    for _ in range(3):
        run("login", "123456601", "--challenge", "x", "--audience", "y", "--pin", "000000")
    code, _, err = run(
        "login", "123456601", "--challenge", "x", "--audience", "y", "--pin", "123456"
    )
    assert code == 1 and "gesperrt" in err
    code, out, _ = run(
        "unblock", "123456601", "--pin-type", "ch", "--puk", "12121212", "--new-pin", "135790"
    )
    assert code == 0 and "entsperrt" in out
    code, _, _ = run(
        "set-transport-pin", "123456601", "--pin-type", "ch", "--transport-pin", "111111"
    )
    assert code == 0
    code, out, _ = run("revoke", "123456601", "--yes")
    assert code == 0 and "gesperrt" in out
    code, out, _ = run("follow-up", data["card_id"], "--json")
    new = json.loads(out)
    assert code == 0 and new["card_id"] != data["card_id"] and new["telematik_id"] == "1-114777"
    code, out, _ = run("list")
    assert data["card_id"] in out and new["card_id"] in out
    assert "gesperrt" in out


def test_pki_info_and_export(run, tmp_path):
    assert run("pki", "init")[0] == 0
    code, _, err = run("pki", "init")
    assert code == 1 and "existiert bereits" in err
    code, out, _ = run("pki", "info")
    assert "TEST.HBA-qCA1" in out
    code, out, _ = run("pki", "export", "--target", str(tmp_path / "trust"))
    assert (tmp_path / "trust" / "hba-ca.pem").read_text().startswith("-----BEGIN CERTIFICATE")


def test_registered_subcommand_is_available(run, monkeypatch):
    seen = {}

    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--port", type=int, default=1)

    def handler(args, ctx) -> int:
        seen["port"] = args.port
        seen["dir"] = ctx.directory
        ctx.out("ok")
        return 0

    monkeypatch.setitem(
        cli.SUBCOMMANDS, "demo-plugin", cli.Subcommand("demo-plugin", "x", configure, handler)
    )
    code, out, _ = run("demo-plugin", "--port", "5")
    assert code == 0 and out.strip() == "ok"
    assert seen == {"port": 5, "dir": run.directory}


def test_usage_errors_return_2(run):
    assert run("issue")[0] == 2
    assert run("unknown-cmd")[0] == 2
