"""Directory version checks (gemSpec_CM_KOMLE): A_19356-04 — a mail that needs KOM-LE 1.5
(over 25 MB at the Fachdienst, through the KAS at the client module) loses recipients with an
older or undefined komLeData, reported with 4001, 451 if none is left; A_22340 — versions
cached for 24 h; A_21387-01 — the sender's own entry naming a newer version gets an unsigned
DSN 4017, an older one is overwritten."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import smtplib

import pytest

from kvportal.kim import clientmodule as cm
from kvportal.kim import dsn, fachdienst, mail

from . import test_client_module
from .test_client_module import client_module
from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import (
    ALPHA,
    BETA,
    PASSWORDS,
    SMALL,
    accounts,
    running,
    server_tls,
)

world = test_client_module.world  # the module's fixture


@pytest.fixture(scope="module")
def tls(pki, tmp_path_factory):
    return server_tls(pki, tmp_path_factory.mktemp("tls"))


def test_version_key_treats_undefined_as_1_0():
    assert fachdienst.version_key("1.5") > fachdienst.version_key("1.0")
    assert fachdienst.version_key(None) == fachdienst.version_key("1.0")
    assert fachdienst.version_key("kaputt") == (1, 0)


def test_fachdienst_removes_a_1_0_recipient_from_a_mail_over_25_mb(tmp_path):
    store = fachdienst.MailStore(tmp_path / "store")
    source = fachdienst.InMemoryAccountSource({
        ALPHA: PASSWORDS[ALPHA],
        BETA: (PASSWORDS[BETA], fachdienst.AccountLimits(), "1.0"),
        SMALL: (PASSWORDS[SMALL], fachdienst.AccountLimits(), "1.5"),
    })  # fmt: skip
    handler = fachdienst._SmtpHandler(store, source, hostname="fd.test")
    big = CLIENT_MAIL + b"x" * fachdienst.KOMLE_10_MAX_SIZE
    assert handler._deliver(ALPHA, [BETA, SMALL], big).startswith("250")
    assert store.messages(BETA) == [] and len(store.messages(SMALL)) == 1
    (report,) = [m.read() for m in store.messages(ALPHA)]
    assert mail.split(report).get("X-KIM-Fehlermeldung") == "4001"
    assert f"Final-Recipient: rfc822; {BETA}".encode() in report
    assert b"falscher KIM-Version" in report
    # up to 25 MB a 1.0 recipient still gets it; over 25 MB and only 1.0 recipients: refused
    assert handler._deliver(ALPHA, [BETA], CLIENT_MAIL).startswith("250")
    assert handler._deliver(ALPHA, [BETA], big).startswith("552")


def test_account_file_takes_the_version(tmp_path):
    path = tmp_path / "konten.txt"
    path.write_text(f"{ALPHA} pw version=1.0\n{BETA} pw\n")
    source = fachdienst.FileAccountSource.load(path)
    assert source.lookup(ALPHA).kim_version == "1.0"
    assert source.lookup(BETA).kim_version == "1.5"
    path.write_text(f"{ALPHA} pw version=2.7\n")
    with pytest.raises(fachdienst.AccountFileError, match=r"Zeile 1.*version=1\.0"):
        fachdienst.FileAccountSource.load(path)


def test_directory_file_with_versions(tmp_path, pki):
    pem = pki["bob"].cert.public_bytes(__import__("cryptography").hazmat.primitives
                                       .serialization.Encoding.PEM).decode()  # fmt: skip
    path = tmp_path / "vzd.json"
    path.write_text(json.dumps({BETA: {"certificates": [pem], "kim_version": "1.0"},
                                ALPHA: [pem]}))  # fmt: skip
    directory = cm.FileDirectory.load(path)
    assert directory.encryption_certificates(BETA) == [pki["bob"].cert]
    assert directory.kim_version(BETA) == "1.0" and directory.kim_version(ALPHA) is None


def _kas_seal(world, directory, recipients):
    uploads = []
    result = cm.seal(
        CLIENT_MAIL + b"y" * 3000, sender=ALPHA, recipients=recipients, card=world["alpha"],
        directory=directory, kas_threshold=1000, kim_version=directory.kim_version,
        kas_upload=lambda blob, rcpts, expires: uploads.append(rcpts) or "https://kas/1",
    )  # fmt: skip
    return result, uploads


def test_client_module_removes_recipients_below_1_5_from_kas_mails(world, pki):
    directory = cm.FileDirectory(
        {BETA: [pki["bob"].cert], SMALL: [pki["alice"].cert]}, {SMALL: "1.5", BETA: "1.0"}
    )
    result, uploads = _kas_seal(world, directory, [BETA, SMALL])
    assert result.recipients == [SMALL] and uploads == [[SMALL, ALPHA]]
    (failure,) = result.failures
    assert (failure.address, failure.kim_code) == (BETA, dsn.WRONG_KIM_VERSION)
    with pytest.raises(cm.ClientModuleError, match="falscher KIM-Version") as exc:
        _kas_seal(world, directory, [BETA])
    assert exc.value.smtp.startswith("451")
    undefined = cm.FileDirectory({BETA: [pki["bob"].cert]})  # no komLeData: 1.0
    with pytest.raises(cm.ClientModuleError):
        _kas_seal(world, undefined, [BETA])
    small = cm.seal(CLIENT_MAIL, sender=ALPHA, recipients=[BETA], card=world["alpha"],
                    directory=directory, kim_version=directory.kim_version)  # fmt: skip
    assert small.recipients == [BETA]  # without the KAS a 1.0 recipient can read it


def test_version_cache_holds_24_hours_and_the_sender_check(pki):
    calls = []

    class Directory(cm.FileDirectory):
        def kim_version(self, address):
            calls.append(address)
            return super().kim_version(address)

    now = [dt.datetime(2030, 1, 1, tzinfo=dt.UTC)]
    directory = Directory({}, {ALPHA: "1.6", BETA: "1.0"})
    cache = cm.VersionCache(directory, clock=lambda: now[0])
    assert cache.get(ALPHA) == cache.get(ALPHA.upper()) == "1.6" and calls == [ALPHA]
    now[0] += dt.timedelta(hours=24)
    cache.get(ALPHA)
    assert calls == [ALPHA, ALPHA]
    notice = cache.check_sender(ALPHA)
    assert notice.kim_code == dsn.CLIENT_MODULE_OUTDATED and "aktualisieren" in notice.diagnostic
    assert cache.check_sender(BETA) is None
    assert directory.kim_version(BETA) == fachdienst.KOMLE_VERSION  # overwritten (A_21387-01)
    assert cache.check_sender("niemand@kv-test.kim.example") is None


def test_outdated_client_module_tells_the_sender_with_4017(world, pki, tls, tmp_path):
    directory = cm.FileDirectory(
        {ALPHA: [pki["alice"].cert], BETA: [pki["bob"].cert]}, {ALPHA: "1.6", BETA: "1.5"}
    )
    _server_ctx, client_ctx = tls
    store = fachdienst.MailStore(tmp_path / "store")
    newer = dict(world, directory=directory)
    with running(store, accounts(), tls) as fd, client_module(newer, tls) as (cm_smtp, _pop):
        pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=20, context=client_ctx)
        pvs.login(f"{ALPHA}#127.0.0.1:{fd.smtps}#1#PVS#AP1", PASSWORDS[ALPHA])
        assert pvs.sendmail(ALPHA, [BETA], CLIENT_MAIL) == {}  # the mail still goes out
        pvs.quit()
    assert len(store.messages(BETA)) == 1
    (notice,) = [m.read() for m in store.messages(ALPHA)]
    head = mail.split(notice)
    assert head.get("X-KIM-Fehlermeldung") == "4017"
    assert "multipart/report" in head.get("Content-Type")  # a DSN: neither signed nor encrypted
    text = email.message_from_bytes(notice, policy=email.policy.default)
    explanation = next(p for p in text.walk() if p.get_content_type() == "text/plain")
    assert "aktualisieren" in explanation.get_content()
