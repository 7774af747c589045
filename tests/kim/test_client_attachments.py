"""KAS (I_Attachment_Service v2.4) and KIM 1.5 mails above the threshold through the KAS."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import poplib
import smtplib
import threading
import urllib.error
import urllib.request

import pytest

from kvportal.kim import attachments, dsn, fachdienst, mail
from kvportal.kim import clientmodule as cm

from .test_client_module import client_module, world  # noqa: F401 (fixture)
from .test_roundtrip import CLIENT_MAIL
from .test_server_fachdienst import (
    ALPHA,
    BETA,
    FULL,
    PASSWORDS,
    SMALL,
    accounts,
    running,
    server_tls,
)


@pytest.fixture(scope="module")
def tls(pki, tmp_path_factory):
    return server_tls(pki, tmp_path_factory.mktemp("tls"))


@contextlib.contextmanager
def kas_running(root, source=None, **kwargs):  # kwargs: AttachmentService options
    service = attachments.AttachmentService(root, source=source or accounts(), **kwargs)
    loop = asyncio.new_event_loop()
    ready, holder = threading.Event(), []

    def run():
        asyncio.set_event_loop(loop)
        holder.append(loop.run_until_complete(service.start("127.0.0.1", 0)))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    port = holder[0].addresses[0][1]
    try:
        yield service, f"http://127.0.0.1:{port}{attachments.BASE_PATH}"
    finally:
        asyncio.run_coroutine_threadsafe(holder[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _upload(base, data=b"\x01" * 1000, user=ALPHA, recipients=(BETA,), days=5):
    return attachments.KasClient(base).upload(
        data, user=user, password=PASSWORDS[user], message_id="<m1@kv-test>",
        recipients=list(recipients), expires=dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
    )  # fmt: skip


def test_upload_and_download_only_for_listed_recipients(tmp_path):
    with kas_running(tmp_path / "kas") as (_service, base):
        link = _upload(base, b"ciphertext-bytes")
        assert link.startswith(f"{base}/attachment/")
        client = attachments.KasClient(base)
        assert client.download(link, recipient=BETA.upper()) == b"ciphertext-bytes"
        with pytest.raises(attachments.KasError) as exc:
            client.download(link, recipient=SMALL)
        assert exc.value.status == 403
        with pytest.raises(attachments.KasError) as exc:
            client.download(f"{base}/attachment/{'0' * 40}", recipient=BETA)
        assert exc.value.status == 404
        request = urllib.request.Request(link, method="HEAD", headers={"recipient": BETA})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and response.headers["Content-Length"] == "16"


def test_upload_needs_the_account_and_all_fields(tmp_path):
    with kas_running(tmp_path / "kas") as (_service, base):
        with pytest.raises(attachments.KasError) as exc:
            attachments.KasClient(base).upload(
                b"x", user=ALPHA, password="falsch", message_id="<m>", recipients=[BETA],
                expires=dt.datetime.now(dt.UTC),
            )  # fmt: skip
        assert exc.value.status == 401
        token = base64.b64encode(f"{ALPHA}:{PASSWORDS[ALPHA]}".encode()).decode()
        body, boundary = attachments._multipart([("messageID", "<m>")], b"x")
        request = urllib.request.Request(f"{base}/attachment/", data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Authorization", f"Basic {token}")
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request, timeout=10)
        assert http.value.code == 400
        assert "recipients, expires" in json.loads(http.value.read())["message"]


def test_size_limit_413_and_quota_507(tmp_path):
    with kas_running(tmp_path / "kas") as (_service, base):
        with pytest.raises(attachments.KasError) as exc:
            _upload(base, b"x" * 100_000, user=SMALL)  # SMALL: maxMailSize 20 000
        assert exc.value.status == 413
        _upload(base, b"x" * 20_000, user=FULL)  # FULL: quota 30 000
        with pytest.raises(attachments.KasError) as exc:
            _upload(base, b"x" * 20_000, user=FULL)
        assert exc.value.status == 507


def test_download_limit_429_and_owner_delete(tmp_path):
    with kas_running(tmp_path / "kas", max_downloads=2) as (_service, base):
        link = _upload(base)
        client = attachments.KasClient(base)
        client.download(link, recipient=BETA)
        client.download(link, recipient=BETA)
        with pytest.raises(attachments.KasError) as exc:
            client.download(link, recipient=BETA)
        assert exc.value.status == 429
        token = base64.b64encode(f"{BETA}:{PASSWORDS[BETA]}".encode()).decode()
        request = urllib.request.Request(link, method="DELETE")
        request.add_header("Authorization", f"Basic {token}")
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request, timeout=10)
        assert http.value.code == 404  # only the uploader may delete
        token = base64.b64encode(f"{ALPHA}:{PASSWORDS[ALPHA]}".encode()).decode()
        request = urllib.request.Request(link, method="DELETE")
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        assert list((tmp_path / "kas").iterdir()) == []


def test_expiry_is_capped_by_data_time_to_live_and_purged(tmp_path):
    with kas_running(tmp_path / "kas") as (service, base):
        _upload(base, user=FULL, days=300)  # FULL keeps data 10 days
        (meta_path,) = (tmp_path / "kas").glob("*.json")
        expires = dt.datetime.fromisoformat(json.loads(meta_path.read_text())["expires"])
        assert expires <= dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
        assert service.purge_expired(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=9)) == 0
        assert service.purge_expired(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=11)) == 1
        assert list((tmp_path / "kas").iterdir()) == []


def test_kas_encryption_and_reference_mail():
    big = CLIENT_MAIL + os.urandom(1000)
    packed = attachments.encrypt_for_kas(big)
    assert big not in packed.blob and attachments.decrypt_from_kas(packed.blob, packed.key) == big
    broken = bytearray(packed.blob)
    broken[20] ^= 1
    with pytest.raises(attachments.KasError, match="GCM"):
        attachments.decrypt_from_kas(bytes(broken), packed.key)
    ref = attachments.reference_mail(big, link="https://kas/x", packed=packed)
    head = mail.split(ref)
    assert head.get("X-KIM-KAS-Size") == str(len(big)) and head.get("Subject") == "Befund"
    found = attachments.find_reference(ref)
    assert found["link"] == "https://kas/x" and found["size"] == len(big)
    assert attachments.has_kas_part(ref) and not attachments.has_kas_part(CLIENT_MAIL)


def test_practice_mail_with_own_x_kas_part_is_refused(world):  # noqa: F811
    ref = attachments.reference_mail(
        CLIENT_MAIL, link="https://kas/x", packed=attachments.encrypt_for_kas(b"x")
    )
    with pytest.raises(cm.ClientModuleError, match="A_22341") as exc:
        cm.seal(ref, sender=ALPHA, recipients=[BETA], card=world["alpha"],
                directory=world["directory"])  # fmt: skip
    assert exc.value.smtp.startswith("451")


def _big_mail(size):
    return CLIENT_MAIL.replace(b"Synthetischer Testinhalt.\r\n", b"") + (
        base64.encodebytes(os.urandom(size)).replace(b"\n", b"\r\n")
    )


@contextlib.contextmanager
def practice_setup(tls, tmp_path):
    store = fachdienst.MailStore(tmp_path / "store")
    with running(store, accounts(), tls) as fd, kas_running(tmp_path / "kas") as (service, base):
        yield store, fd, service, base


def test_mail_over_threshold_goes_through_the_kas_end_to_end(world, tls, tmp_path):  # noqa: F811
    big = _big_mail(150_000)
    with practice_setup(tls, tmp_path) as (store, fd, _service, base):
        kas = attachments.KasClient(base)
        with client_module(world, tls, kas=kas, kas_threshold=50_000) as (cm_smtp, cm_pop):
            _server_ctx, client_ctx = tls
            pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=30, context=client_ctx)
            pvs.login(f"{ALPHA}#127.0.0.1:{fd.smtps}#1#PVS#AP1", PASSWORDS[ALPHA])
            pvs.sendmail(ALPHA, [BETA], big)
            pvs.quit()
            (held,) = [m.read() for m in store.messages(BETA)]
            assert len(held) < 40_000  # only the reference travels as KOM-LE mail
            assert b"X-KIM-KAS-Size" not in held  # …and it is inside the encryption
            (blob,) = (tmp_path / "kas").glob("*.bin")
            assert big[-200:] not in blob.read_bytes()  # the KAS holds ciphertext only

            pvs = poplib.POP3_SSL("127.0.0.1", cm_pop, timeout=30, context=client_ctx)
            pvs.user(f"{BETA}#127.0.0.1:{fd.pop3s}#1#PVS#AP2")
            pvs.pass_(PASSWORDS[BETA])
            _resp, lines, _ = pvs.retr(1)
            pvs.quit()
            received = b"\r\n".join(lines) + b"\r\n"
            assert mail.split(received).get("X-KIM-IntegrityCheckResult").startswith("gültig")
            assert received.endswith(big)


def test_kas_download_failure_gives_4006_wrapper(world, tls, tmp_path):  # noqa: F811
    big = _big_mail(80_000)
    with practice_setup(tls, tmp_path) as (_store, fd, _service, base):
        kas = attachments.KasClient(base)
        with client_module(world, tls, kas=kas, kas_threshold=50_000) as (cm_smtp, cm_pop):
            _server_ctx, client_ctx = tls
            pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=30, context=client_ctx)
            pvs.login(f"{ALPHA}#127.0.0.1:{fd.smtps}#1#PVS#AP1", PASSWORDS[ALPHA])
            pvs.sendmail(ALPHA, [BETA], big)
            pvs.quit()
            for path in (tmp_path / "kas").iterdir():
                path.unlink()  # gone from the KAS (expired)
            pvs = poplib.POP3_SSL("127.0.0.1", cm_pop, timeout=30, context=client_ctx)
            pvs.user(f"{BETA}#127.0.0.1:{fd.pop3s}#1#PVS#AP2")
            pvs.pass_(PASSWORDS[BETA])
            _resp, lines, _ = pvs.retr(1)
            pvs.quit()
            head = mail.split(b"\r\n".join(lines) + b"\r\n")
            assert head.get("X-KIM-Fehlermeldung") == str(dsn.KAS_DOWNLOAD_FAILED)
            assert head.get("Subject").startswith("Mindestens ein Anhang")


def test_get_limits_reports_limits_and_remaining_quota(tmp_path):
    store = fachdienst.MailStore(tmp_path / "store")
    store.deliver(FULL, b"Subject: x\r\n\r\n" + b"y" * 5_000)
    with kas_running(tmp_path / "kas", store=store) as (_service, base):
        url = base.replace(attachments.BASE_PATH, attachments.LIMIT_PATH)
        _upload(base, b"z" * 10_000, user=FULL)
        limits = attachments.LimitsClient(url)
        got = limits.get(FULL, PASSWORDS[FULL])
        assert got == fachdienst.AccountLimits(max_mail_size=734_003_200, quota=30_000,
                                               data_time_to_live=10)  # fmt: skip
        token = base64.b64encode(f"{FULL}:{PASSWORDS[FULL]}".encode()).decode()
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        assert body["remainQuota"] == 30_000 - 10_000 - len(store.messages(FULL)[0].read())
        with pytest.raises(attachments.KasError) as exc:
            attachments.LimitsClient(url).get(FULL, "falsch")
        assert exc.value.status == 401


def test_client_module_checks_max_mail_size_before_sending(world, tls, tmp_path):  # noqa: F811
    with practice_setup(tls, tmp_path) as (store, fd, _service, base):
        url = base.replace(attachments.BASE_PATH, attachments.LIMIT_PATH)
        limits = attachments.LimitsClient(url)
        with client_module(world, tls, limits=limits) as (cm_smtp, _cm_pop):
            _server_ctx, client_ctx = tls
            pvs = smtplib.SMTP_SSL("127.0.0.1", cm_smtp, timeout=30, context=client_ctx)
            pvs.login(f"{SMALL}#127.0.0.1:{fd.smtps}#1#PVS#AP1", PASSWORDS[SMALL])
            with pytest.raises(smtplib.SMTPDataError) as exc:
                pvs.sendmail(SMALL, [BETA], _big_mail(30_000))  # SMALL: maxMailSize 20 000
            assert exc.value.smtp_code == 552 and b"5.3.4" in exc.value.smtp_error
            assert "4018" in exc.value.smtp_error.decode()
            pvs.quit()
        assert store.messages(BETA) == []
