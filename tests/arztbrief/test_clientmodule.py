"""Practice-software path: a letter handed to the client module over SMTP with the
Dienstkennung Arztbrief;VHitG-Versand;V1.2 is QES-signed (if not yet) and sent; the receiving
client module verifies the QES and tells the practice software (header + report part)."""

from __future__ import annotations

import email
import email.policy
import poplib
import smtplib
from email.message import EmailMessage

import pytest

from kvportal.arztbrief import kimhooks
from kvportal.cardlib import signing, validation
from kvportal.kim import clientmodule as cm
from kvportal.kim import fachdienst
from tests.ehba.conftest import PIN_QES, make_pdf
from tests.kim.conftest import make_cert
from tests.kim.test_client_module import client_module, crl
from tests.kim.test_server_fachdienst import ALPHA, BETA, PASSWORDS, accounts, running, server_tls


@pytest.fixture
def kim(tmp_path):
    ca = make_cert("KV Test-CA SMC-B TEST-ONLY", ca=True, days=365)
    alpha_osig, beta_osig = (make_cert(f"{n} OSIG TEST-ONLY", issuer=ca) for n in "AB")
    alpha_enc, beta_enc = (make_cert(f"{n} ENC TEST-ONLY", issuer=ca) for n in "AB")
    world = {
        "alpha": cm.PemCard(
            osig_key=alpha_osig.key,
            osig_cert=alpha_osig.cert,
            enc=[(alpha_enc.cert, alpha_enc.key)],
        ),
        "beta": cm.PemCard(
            osig_key=beta_osig.key, osig_cert=beta_osig.cert, enc=[(beta_enc.cert, beta_enc.key)]
        ),
        "directory": cm.FileDirectory({ALPHA: [alpha_enc.cert], BETA: [beta_enc.cert]}),
        "trust": cm.Trust(anchors=[ca.cert], crls=[crl(ca)]),
    }
    (tmp_path / "tls").mkdir()
    return world, server_tls({"ca": ca}, tmp_path / "tls")


@pytest.fixture
def hooks(monkeypatch, pki, new_card):
    """Register the eArztbrief transforms for ALPHA's eHBA; restored afterwards."""
    monkeypatch.setitem(cm.TRANSFORMS, "outgoing", {})
    monkeypatch.setitem(cm.TRANSFORMS, "incoming", {})
    card = new_card(given_name="Anna", surname="Müller")
    kimhooks.register(
        signers={ALPHA: (card, lambda: PIN_QES)},
        trust_roots=pki.trust_roots,
        revocation_check=pki.revocation_check,
    )
    return card


def letter(pdf: bytes | None, dienstkennung=kimhooks.DK_VERSAND) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = ALPHA, BETA, "eArztbrief"
    msg["X-KIM-Dienstkennung"] = dienstkennung
    msg.set_content("Anbei der Brief (synthetisch).")
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="brief.pdf")
    return msg.as_bytes()


def _pdf_of(received: bytes) -> bytes:
    message = email.message_from_bytes(received, policy=email.policy.default)
    (part,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    return part.get_payload(decode=True)


def test_pvs_letter_is_signed_sent_and_verified_on_receipt(kim, hooks, pki, tmp_path):
    world, tls = kim
    _server_ctx, client_ctx = tls
    store = fachdienst.MailStore(tmp_path / "store")
    with running(store, accounts(), tls) as fd, client_module(world, tls) as (cm_smtp, cm_pop):
        pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=30, context=client_ctx)
        pvs.login(f"{ALPHA}#127.0.0.1:{fd.smtps}#1#PVS#AP1", PASSWORDS[ALPHA])
        assert pvs.sendmail(ALPHA, [BETA], letter(make_pdf("Arztbrief"))) == {}
        # without PDF, and a letter of a sender without eHBA: refused with a German text
        with pytest.raises(smtplib.SMTPDataError) as refused:
            pvs.sendmail(ALPHA, [BETA], letter(None))
        assert refused.value.smtp_code == 554 and "PDF" in refused.value.smtp_error.decode()
        pvs.quit()
        assert len(store.messages(BETA)) == 1  # only the signed letter went out

        pvs = poplib.POP3_SSL("127.0.0.1", cm_pop, timeout=30, context=client_ctx)
        pvs.user(f"{BETA}#127.0.0.1:{fd.pop3s}#1#PVS#AP2")
        pvs.pass_(PASSWORDS[BETA])
        _resp, lines, _ = pvs.retr(1)
        pvs.quit()
    received = b"\r\n".join(lines) + b"\r\n"
    head = email.message_from_bytes(received, policy=email.policy.default)
    assert head["X-KIM-Arztbrief-QES"].startswith("gültig; qualifiziert signiert von Anna Müller")
    assert head["X-KIM-IntegrityCheckResult"].startswith("gültig")
    report = next(p for p in head.walk() if p.get_filename() == "qes-pruefbericht.txt")
    assert "Anna Müller" in report.get_content()
    # the PDF really carries a valid QES, checked independently of the hook
    checked = validation.validate_pdf_signatures(
        _pdf_of(received),
        original=None,
        trust_roots=pki.trust_roots,
        revocation_check=pki.revocation_check,
        required_signers=lambda _s: True,
    )
    assert checked.verdict == "valid"


def test_sender_without_ehba_is_refused(hooks):
    outgoing = cm.TRANSFORMS["outgoing"][kimhooks.DK_VERSAND]
    with pytest.raises(ValueError, match="kein eHBA"):
        outgoing(letter(make_pdf()), "andere@kv-test.kim.example")


def test_already_signed_letter_is_passed_unchanged(hooks):
    signed = signing.sign_pdf(hooks, make_pdf("schon signiert"), pin=PIN_QES)
    data = letter(signed)
    outgoing = cm.TRANSFORMS["outgoing"][kimhooks.DK_VERSAND]
    assert outgoing(data, "andere@kv-test.kim.example") == data  # no eHBA needed


def test_other_dienstkennung_is_not_touched(hooks):
    data = letter(make_pdf(), dienstkennung="KIM-Mail;Default;V1.0")
    assert cm._transformed("outgoing", data, ALPHA) == data


def test_tampered_or_unsigned_pdf_is_reported_invalid(hooks, foreign_pki, new_card):
    incoming = cm.TRANSFORMS["incoming"][kimhooks.DK_VERSAND]
    unsigned = incoming(letter(make_pdf()))
    assert email.message_from_bytes(unsigned, policy=email.policy.default)[
        "X-KIM-Arztbrief-QES"
    ].startswith("ungültig")
    signed = bytearray(signing.sign_pdf(hooks, make_pdf("Brief"), pin=PIN_QES))
    at = signed.find(b"(Brief)")
    signed[at + 1 : at + 6] = b"Fries"
    tampered = incoming(letter(bytes(signed)))
    assert email.message_from_bytes(tampered, policy=email.policy.default)[
        "X-KIM-Arztbrief-QES"
    ].startswith("ungültig")
    stranger = new_card(pki_=foreign_pki, given_name="Fremd", surname="Person")
    foreign = incoming(letter(signing.sign_pdf(stranger, make_pdf(), pin=PIN_QES)))
    assert email.message_from_bytes(foreign, policy=email.policy.default)[
        "X-KIM-Arztbrief-QES"
    ].startswith("ungültig")


def test_from_config_registers_the_ehba_of_the_config(
    monkeypatch, pki, new_card, card_dir, tmp_path
):
    import json

    from cryptography.hazmat.primitives import serialization

    monkeypatch.setitem(cm.TRANSFORMS, "outgoing", {})
    monkeypatch.setitem(cm.TRANSFORMS, "incoming", {})
    card = new_card(given_name="Anna", surname="Müller")
    (tmp_path / "pin").write_text(PIN_QES + "\n")
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root_cert.public_bytes(serialization.Encoding.PEM))
    config = tmp_path / "arztbrief.json"
    config.write_text(
        json.dumps(
            {
                "ehba": {
                    ALPHA: {
                        "card": card.card_id,
                        "card_dir": str(card_dir),
                        "pin_file": str(tmp_path / "pin"),
                    }
                },
                "qes_trust": [str(root)],
            }
        )
    )
    kimhooks.from_config(str(config))
    out = cm.TRANSFORMS["outgoing"][kimhooks.DK_VERSAND](letter(make_pdf("x")), ALPHA)
    assert kimhooks._is_signed(_pdf_of(out))
    config.write_text(
        json.dumps({"ehba": {ALPHA: {"card": "fehlt", "pin_file": "p"}}, "qes_trust": []})
    )
    with pytest.raises(ValueError, match=f"eHBA für „{ALPHA}“"):
        kimhooks.from_config(str(config))
    config.write_text("[]")
    with pytest.raises(ValueError, match="erwartet JSON"):
        kimhooks.from_config(str(config))


def test_client_command_names_a_bad_transform_in_german(tmp_path):
    import io

    from kvportal.kim import cli

    base = ["client", "--cards", str(tmp_path / "k.json"), "--directory", "v.json",
            "--trust", "t.pem", "--fachdienst-ca", "c.pem",
            "--tls-cert", "c", "--tls-key", "k"]  # fmt: skip
    for spec, text in (
        ("kvportal.gibtsnicht:x", "nicht gefunden"),
        (
            f"kvportal.arztbrief.kimhooks:from_config={tmp_path / 'fehlt.json'}",
            "eArztbrief-Konfiguration",
        ),
    ):
        err = io.StringIO()
        code = cli.main([*base, "--transform", spec], stdout=io.StringIO(), stderr=err)
        assert code == cli.EXIT_USAGE and text in err.getvalue(), err.getvalue()


def test_a_mail_without_header_block_is_left_to_the_module(hooks):
    assert cm._transformed("outgoing", b"kein MIME", ALPHA) == b"kein MIME"
