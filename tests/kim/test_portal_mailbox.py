"""Web mailbox (issue 15): the agent (kim/agent_endpoints.py) signs/encrypts and decrypts/
verifies with the SMC-B; the portal stores only ciphertext, per recipient and in „Gesendet“;
rights (KIM-Postfach der Praxis, personal mailbox only its owner); access log without content;
delete/trash; retention purge with the clock moved on."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from kvportal.accounts.constants import AccountKind, Right
from kvportal.audit.models import AccessLogEntry
from kvportal.core.storage import private_storage
from kvportal.kim import agent_endpoints, services, services_mailbox
from kvportal.kim.models import Folder, StoredMessage
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, UserFactory, doctor_account, grant
from tests.kim.test_portal_support import *  # noqa: F403 (fixtures)
from tests.kim.test_portal_support import NEW_PIN, practice_account

pytestmark = pytest.mark.django_db

SECRET_SUBJECT = "Befund Patientin Erika Beispiel"  # synthetic; must never reach the server


@pytest.fixture
def two_practices(doctor, practice, registrar):
    a, _ = practice_account(doctor, practice, registrar, local="praxis-mueller")
    other_practice = BetriebsstaetteFactory(name="Praxis Schulz", city="Dresden")
    other = doctor_account(other_practice, Role.VERTRAGSARZT, Right.BILLING)
    b, _ = practice_account(other, other_practice, registrar, local="praxis-schulz")
    return {"a": a, "b": b, "doctor_a": doctor, "doctor_b": other}


def _card(account) -> agent_endpoints.Card:
    data = private_storage.open(account.smcb.card_file).read()
    return agent_endpoints.Card(data, NEW_PIN)


def _compose(sender, recipient, *, subject=SECRET_SUBJECT, attachments=()):
    return agent_endpoints.handle_compose(
        _card(sender),
        {
            "from": sender.address,
            "to": [recipient.address],
            "subject": subject,
            "text": "Guten Tag,\nanbei der Befund.\n",
            "attachments": list(attachments),
            "certificates": {recipient.address: [recipient.smcb.cert_enc]},
        },
    )


def test_send_and_read_end_to_end_with_attachment(two_practices):
    a, b = two_practices["a"], two_practices["b"]
    pdf = b"%PDF-1.4 synthetischer Befund"
    built = _compose(
        b,
        a,
        attachments=[
            {
                "name": "befund.pdf",
                "content_type": "application/pdf",
                "data": base64.b64encode(pdf).decode(),
            }
        ],
    )
    raw = base64.b64decode(built["mail"])
    assert SECRET_SUBJECT.encode() not in raw and b"befund.pdf" not in raw
    stored = services_mailbox.send(actor=two_practices["doctor_b"], account=b, raw=raw)
    inbox = StoredMessage.objects.get(account=a, folder=Folder.INBOX)
    sent = StoredMessage.objects.get(account=b, folder=Folder.SENT)
    assert {m.pk for m in stored} == {inbox.pk, sent.pk}
    assert inbox.read_at is None and inbox.dienstkennung == "KIM-Mail;Default;V1.0"
    assert inbox.sender == b.address and inbox.recipients == [a.address]
    # the recipient reads it through the web mailbox and the agent
    ciphertext = services_mailbox.open_message(actor=two_practices["doctor_a"], message=inbox)
    opened = agent_endpoints.handle_open(_card(a), {"mail": base64.b64encode(ciphertext).decode()})
    assert opened["subject"] == SECRET_SUBJECT
    assert opened["signature_valid"] and opened["chain_valid"]
    assert opened["attachments"][0]["name"] == "befund.pdf"
    assert base64.b64decode(opened["attachments"][0]["data"]) == pdf
    inbox.refresh_from_db()
    assert inbox.read_at is not None
    # the sender's copy in „Gesendet“ is readable with the sender's own card
    own = agent_endpoints.handle_open(_card(b), {"mail": base64.b64encode(raw).decode()})
    assert own["subject"] == SECRET_SUBJECT
    # access log: send and open, no content or subject
    entries = AccessLogEntry.objects.filter(detail__kim__in=["send", "open"])
    assert entries.count() == 2
    for entry in entries:
        dumped = json.dumps([entry.object_repr, entry.detail, entry.path], ensure_ascii=False)
        assert "Befund" not in dumped and "Erika" not in dumped


def test_third_party_card_cannot_open(two_practices, registrar):
    a, b = two_practices["a"], two_practices["b"]
    raw = base64.b64decode(_compose(b, a)["mail"])
    third_practice = BetriebsstaetteFactory(name="Praxis Dritt")
    third_doc = doctor_account(third_practice, Role.VERTRAGSARZT, Right.BILLING)
    c, _ = practice_account(third_doc, third_practice, registrar, local="praxis-dritt")
    with pytest.raises(agent_endpoints.AgentError) as err:
        agent_endpoints.handle_open(_card(c), {"mail": base64.b64encode(raw).decode()})
    assert err.value.code == "not_recipient"


def test_compose_without_certificate_is_4003(two_practices):
    a, b = two_practices["a"], two_practices["b"]
    with pytest.raises(agent_endpoints.AgentError, match="4003"):
        agent_endpoints.handle_compose(
            _card(b), {"from": b.address, "to": [a.address], "text": "x", "certificates": {}}
        )


def test_server_refuses_plain_mail_wrong_sender_unknown_recipient(two_practices):
    a, b = two_practices["a"], two_practices["b"]
    actor = two_practices["doctor_b"]
    plain = f"From: {b.address}\r\nTo: {a.address}\r\nSubject: x\r\n\r\nKlartext".encode()
    with pytest.raises(ValidationError, match="Chiffrat"):
        services_mailbox.send(actor=actor, account=b, raw=plain)
    raw = base64.b64decode(_compose(b, a)["mail"])
    with pytest.raises(PermissionDenied):
        services_mailbox.send(actor=actor, account=a, raw=raw)  # not b's mailbox holder
    grant(actor, a.betriebsstaette, Right.KIM_POSTFACH)
    with pytest.raises(ValidationError, match="Absender"):
        services_mailbox.send(actor=actor, account=a, raw=raw)
    services.deregister_account(
        actor=two_practices["doctor_a"],
        account=a,
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=40),
    )
    with pytest.raises(ValidationError, match="abgemeldet"):
        services_mailbox.send(actor=actor, account=b, raw=raw)
    assert not StoredMessage.objects.exists()


def test_rights_practice_mailbox_by_delegated_right_personal_only_owner(two_practices):
    a = two_practices["a"]
    raw = base64.b64decode(_compose(two_practices["b"], a)["mail"])
    services_mailbox.send(actor=two_practices["doctor_b"], account=two_practices["b"], raw=raw)
    inbox = StoredMessage.objects.get(account=a)
    staff = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    grant(staff, a.betriebsstaette, Right.BILLING)
    c = Client()
    c.force_login(staff)
    url = f"/kim/postfach/{a.pk}/{inbox.pk}/nachricht.eml"
    assert c.get(url).status_code == 404
    grant(staff, a.betriebsstaette, Right.KIM_POSTFACH)
    response = c.get(url)
    assert response.status_code == 200 and response.content == raw
    # personal mailbox: only its owner
    owner = two_practices["doctor_a"]
    personal = services.request_personal_account(actor=owner, local_part="dr-mueller")
    from kvportal.accounts.models import User

    registrar = User.objects.get(username="arztregister")
    services.register_account(actor=registrar, account=personal)
    assert c.get(f"/kim/postfach/{personal.pk}/").status_code == 404
    mine = Client()
    mine.force_login(owner)
    assert mine.get(f"/kim/postfach/{personal.pk}/").status_code == 200


def test_list_unread_search_delete_trash(two_practices, client):
    a, b = two_practices["a"], two_practices["b"]
    raw = base64.b64decode(_compose(b, a)["mail"])
    services_mailbox.send(actor=two_practices["doctor_b"], account=b, raw=raw)
    client.force_login(two_practices["doctor_a"])
    html = client.get(f"/kim/postfach/{a.pk}/").content.decode()
    assert "ungelesen" in html and b.address in html and "KIM-Mail;Default;V1.0" in html
    assert b.address in client.get(f"/kim/postfach/{a.pk}/?suche=schulz").content.decode()
    assert (
        "Keine Nachrichten" in client.get(f"/kim/postfach/{a.pk}/?suche=niemand").content.decode()
    )
    message = StoredMessage.objects.get(account=a)
    page = client.get(f"/kim/postfach/{a.pk}/{message.pk}/").content.decode()
    assert "data-kim-open" in page and SECRET_SUBJECT not in page
    client.post(f"/kim/postfach/{a.pk}/{message.pk}/loeschen/")
    message.refresh_from_db()
    assert message.folder == Folder.TRASH
    assert b.address in client.get(f"/kim/postfach/{a.pk}/?ordner=trash").content.decode()
    client.post(f"/kim/postfach/{a.pk}/{message.pk}/loeschen/")
    assert not StoredMessage.objects.filter(pk=message.pk).exists()
    # the sender's copy still holds the file
    sent = StoredMessage.objects.get(account=b)
    assert private_storage.exists(sent.path)
    assert AccessLogEntry.objects.filter(activity="delete", detail__kim="delete").count() == 2


def test_send_view_and_certificates_endpoint(two_practices):
    a, b = two_practices["a"], two_practices["b"]
    c = Client()
    c.force_login(two_practices["doctor_b"])
    certs = c.get(f"/kim/postfach/{b.pk}/zertifikate/?an={a.address}").json()
    assert certs["certificates"][a.address] == [a.smcb.cert_enc]
    missing = c.get(f"/kim/postfach/{b.pk}/zertifikate/?an=niemand@kv-sachsen.kim.example")
    assert missing.status_code == 400 and "niemand@" in missing.json()["fehler"]
    built = _compose(b, a)
    response = c.post(
        f"/kim/postfach/{b.pk}/senden/",
        json.dumps({"mail": built["mail"]}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["ok"]
    bad = c.post(
        f"/kim/postfach/{b.pk}/senden/",
        json.dumps({"mail": "%%%"}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and "unlesbar" in bad.json()["fehler"]


def test_retention_purge_after_data_time_to_live(two_practices):
    a, b = two_practices["a"], two_practices["b"]
    services.update_limits(
        actor=two_practices["doctor_a"],
        account=a,
        max_mail_size=a.max_mail_size,
        data_time_to_live=10,
        quota=a.quota,
    )
    raw = base64.b64decode(_compose(b, a)["mail"])
    services_mailbox.send(actor=two_practices["doctor_b"], account=b, raw=raw)
    now = dt.datetime.now(dt.UTC)
    assert services_mailbox.purge_expired(now=now + dt.timedelta(days=9)).count == 0
    dry = services_mailbox.purge_expired(now=now + dt.timedelta(days=11), dry_run=True)
    assert dry.count == 1 and StoredMessage.objects.count() == 2
    services_mailbox.purge_expired(now=now + dt.timedelta(days=11))
    assert list(StoredMessage.objects.values_list("account", flat=True)) == [b.pk]  # 90 days
    services_mailbox.purge_expired(now=now + dt.timedelta(days=91))
    assert not StoredMessage.objects.exists()


def test_agent_http_checks_origin_and_serves_open(two_practices, tmp_path):
    a, b = two_practices["a"], two_practices["b"]
    card_file = tmp_path / "smcb.json"
    card_file.write_bytes(private_storage.open(a.smcb.card_file).read())
    agent = agent_endpoints.KimAgent(
        card_file, origins=["http://portal.test"], pin=lambda: NEW_PIN, port=0
    )
    url = agent.start()
    try:
        status = json.loads(urllib.request.urlopen(url + "/status", timeout=5).read())
        assert status["bereit"] and status["telematik_id"] == a.smcb.telematik_id
        raw = base64.b64decode(_compose(b, a)["mail"])
        body = json.dumps({"mail": base64.b64encode(raw).decode()}).encode()

        def post(origin):
            req = urllib.request.Request(
                url + "/kim/open",
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "Origin": origin},
            )
            return urllib.request.urlopen(req, timeout=10)

        response = post("http://portal.test")
        assert response.headers["Access-Control-Allow-Origin"] == "http://portal.test"
        assert json.loads(response.read())["subject"] == SECRET_SUBJECT
        with pytest.raises(urllib.error.HTTPError) as err:
            post("http://evil.test")
        assert err.value.code == 403
        assert "darf den KIM-Agenten nicht" in json.loads(err.value.read())["fehler"]
    finally:
        agent.shutdown()


def test_agent_without_card_says_so(tmp_path):
    agent = agent_endpoints.KimAgent(tmp_path / "fehlt.json", origins=[], pin=lambda: "1", port=0)
    status = agent.status()
    assert not status["bereit"] and "Keine SMC-B" in status["fehler"]


def test_fachdienst_store_bridge_both_ways(two_practices, settings, tmp_path):
    """With KIM_STORE_DIR (the Maildir root of `kim serve --store`): web-mailbox mails land in
    the recipient's Maildir for POP3, and KOM-LE mails delivered over SMTP show up in the web
    mailbox once, with their arrival time; plain reports stay POP3-only."""
    import mailbox

    settings.KIM_STORE_DIR = str(tmp_path / "store")
    a, b = two_practices["a"], two_practices["b"]
    raw = base64.b64decode(_compose(b, a)["mail"])
    services_mailbox.send(actor=two_practices["doctor_b"], account=b, raw=raw)
    maildir_a = mailbox.Maildir(tmp_path / "store" / a.address, factory=None)
    assert [maildir_a.get_bytes(k) for k in maildir_a.iterkeys()] == [raw]
    inbox = StoredMessage.objects.get(account=a)
    assert inbox.store_uid in list(maildir_a.iterkeys())
    assert services_mailbox.sync_from_store(account=a) == 0  # already indexed

    # a mail that came in over SMTP to b, plus a plain delivery report
    maildir_b = mailbox.Maildir(tmp_path / "store" / b.address, factory=None, create=True)
    over_smtp = base64.b64decode(_compose(a, b)["mail"])
    key = maildir_b.add(over_smtp)
    maildir_b.add(b"From: mailer-daemon@kv-sachsen.kim.example\r\nSubject: DSN\r\n\r\nx")
    c = Client()
    c.force_login(two_practices["doctor_b"])
    html = c.get(f"/kim/postfach/{b.pk}/").content.decode()
    assert a.address in html and "ungelesen" in html
    synced = StoredMessage.objects.get(account=b, folder=Folder.INBOX)
    assert synced.store_uid == key and synced.sender == a.address
    assert private_storage.open(synced.path).read() == over_smtp
    c.get(f"/kim/postfach/{b.pk}/")
    assert StoredMessage.objects.filter(account=b, folder=Folder.INBOX).count() == 1
