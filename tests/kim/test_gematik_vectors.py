"""gematik's KOM-LE sample (gematik/api-kim SMIME-Profil.zip, Apache-2.0; see data/NOTICE)."""

from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kvportal.kim import cli, komle

from .conftest import DATA


def _key(name: str):
    return load_pem_private_key((DATA / f"{name}.prv.pem").read_bytes(), None)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("who", ["recipientA", "recipientB"])
def test_both_recipients_decrypt_the_authenveloped_data_to_the_signed_wrap(who):
    result = komle.decrypt((DATA / "inputEmail.txt.04.encryptedcms").read_bytes(), _key(who))
    assert result.content == (DATA / "inputEmail.txt.03.signedwrap").read_bytes()
    assert result.recipient_emails == ["mustersender@komle.de", "musterempfaenger@komle.de"]


@pytest.mark.parametrize(
    "sample", ["inputEmail.txt.05.encryptedwrap", "inputEmail.txt.04.encryptedcms"]
)
@pytest.mark.parametrize("who", ["recipientA", "recipientB"])
def test_open_mail_writes_the_signed_wrap_and_reports_the_damaged_inner_part(tmp_path, sample, who):
    target = tmp_path / "out.bin"
    code, out, err = _run(
        "open", str(DATA / sample), "--key", str(DATA / f"{who}.prv.pem"), "--out", str(target)
    )
    assert target.read_bytes() == (DATA / "inputEmail.txt.03.signedwrap").read_bytes()
    assert code == cli.EXIT_UNREADABLE
    assert "AuthEnvelopedData entschlüsselt" in out
    assert "nicht lesbar" in out
    assert "Traceback" not in out + err


def test_outer_mail_headers_are_printed():
    _code, out, _err = _run(
        "open",
        str(DATA / "inputEmail.txt.05.encryptedwrap"),
        "--key",
        str(DATA / "recipientA.prv.pem"),
    )
    assert "Subject: KOM-LE-Nachricht" in out
    assert "X-KIM-Dienstkennung: KIM-Mail;Default;V1.0" in out
    assert "X-KOM-LE-Version: 1.0" in out


def test_signed_cms_opens_to_the_rfc822_wrap_signature_valid_chain_not_verifiable(tmp_path):
    target = tmp_path / "mail.eml"
    code, out, _err = _run("open", str(DATA / "inputEmail.txt.02.signedcms"), "--out", str(target))
    assert target.read_bytes() == (DATA / "inputEmail.txt.01.rfc822wrap").read_bytes()
    assert code == cli.EXIT_CHAIN
    assert "Signatur mathematisch gültig" in out
    assert "Kette nicht prüfbar" in out
    assert "Subject: Saying Hello" in out


def test_signed_cms_signature_is_valid_in_the_library():
    result = komle.verify((DATA / "inputEmail.txt.02.signedcms").read_bytes())
    assert result.signature_valid is True
    assert result.chain_valid is False


def test_a_key_that_is_no_recipients_is_refused_and_nothing_written(tmp_path, pki):
    key_path, _ = pki["mallory"].write(tmp_path, "mallory")
    target = tmp_path / "out.bin"
    code, out, err = _run(
        "open",
        str(DATA / "inputEmail.txt.05.encryptedwrap"),
        "--key",
        str(key_path),
        "--out",
        str(target),
    )
    assert code == cli.EXIT_KEY
    assert "gehört zu keinem Empfänger" in err
    assert not target.exists()
    assert "Traceback" not in out + err


def test_encrypted_layer_without_key_is_refused(tmp_path):
    target = tmp_path / "out.bin"
    code, out, _err = _run(
        "open", str(DATA / "inputEmail.txt.04.encryptedcms"), "--out", str(target)
    )
    assert code == cli.EXIT_KEY
    assert "kein Schlüssel" in out
    assert not target.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"\x30\x82\x01", b"kein Mailinhalt ohne Leerzeile", b"\x00\xff" * 40],
)
def test_bad_input_gives_a_german_message_and_no_traceback(tmp_path, content):
    bad = tmp_path / "bad.p7m"
    bad.write_bytes(content)
    code, out, err = _run("open", str(bad))
    assert code == cli.EXIT_UNREADABLE
    assert "nicht lesbar" in out + err
    assert "Traceback" not in out + err


def test_missing_file_and_bad_key_file_are_usage_errors(tmp_path):
    code, _out, err = _run("open", str(tmp_path / "fehlt.p7m"))
    assert code == cli.EXIT_USAGE and "Eingabedatei" in err
    code, _out, err = _run(
        "open",
        str(DATA / "inputEmail.txt.04.encryptedcms"),
        "--key",
        str(DATA / "inputEmail.txt.01.rfc822wrap"),
    )
    assert code == cli.EXIT_USAGE and "Schlüsseldatei" in err


def test_management_command_runs_the_same_cli(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "mail.eml"
    out = io.StringIO()
    call_command(
        "kim", "open", str(DATA / "inputEmail.txt.02.signedcms"), "--out", str(target), stdout=out
    )
    assert target.read_bytes() == (DATA / "inputEmail.txt.01.rfc822wrap").read_bytes()
    assert "Signatur mathematisch gültig" in out.getvalue()


def test_client_mail_headers_are_printed_as_sent():
    _code, out, _err = _run("open", str(DATA / "inputEmail.txt.02.signedcms"))
    assert "Date: Wed, 20 Jun 2020 12:58:26 +0200" in out
    assert "From: Karl Mustersender <mustersender@komle.de>" in out
