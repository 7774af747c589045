"""Issue 11: background mails are not sent twice when a job runs again after dying half-way
(delivery marker written in the same transaction as the send)."""

from __future__ import annotations

import smtplib
from unittest import mock

import pytest
import time_machine
from django.core import mail

from kvportal.core.models import Delivery
from kvportal.core.quarters import Quarter
from kvportal.core.tasks import deliver_once
from kvportal.documents import services
from tests.documents.conftest import pdf, world  # noqa: F401  (fixture)


def test_deliver_once_sends_once_and_records_nothing_on_failure(db):
    sent = []
    assert deliver_once("k1", lambda: sent.append(1))
    assert not deliver_once("k1", lambda: sent.append(2))
    assert sent == [1]

    def broken():
        raise smtplib.SMTPServerDisconnected("down")

    with pytest.raises(smtplib.SMTPServerDisconnected):
        deliver_once("k2", broken)
    assert not Delivery.objects.filter(key="k2").exists()  # the retry will send it
    assert deliver_once("k2", lambda: sent.append(3)) and sent == [1, 3]


def test_document_notice_rerun_after_crash_mails_only_the_rest(
    world,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    w = world
    w.doc_a.notify_by_email = True
    w.doc_a.save()
    with time_machine.travel("2026-03-02 09:30 +0100", tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            doc = services.publish_document(
                actor=None,
                betriebsstaette=w.mvz,
                quarter=Quarter(2026, 1),
                doc_type="richtigstellung",
                title="Titel",
                content=pdf("x"),
                lanr=w.doc_a.person.lanr,
            )
        real_send = services.send_mail
        calls = {"n": 0}

        def dies_on_second(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise smtplib.SMTPServerDisconnected("worker lost the connection")
            return real_send(*args, **kwargs)

        with (
            mock.patch.object(services, "send_mail", dies_on_second),
            pytest.raises(smtplib.SMTPServerDisconnected),
        ):
            services.send_document_notices(document_ids=[doc.pk])
        assert len(mail.outbox) == 1
        first = mail.outbox[0].to[0]
        # the redelivered job: the second recipient gets the mail, the first not again
        assert services.send_document_notices(document_ids=[doc.pk]) == 1
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted([w.traeger.email, w.doc_a.email])
    assert recipients.count(first) == 1
    doc.refresh_from_db()
    assert doc.notice_sent_at is not None
