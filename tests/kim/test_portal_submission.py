"""Web mailbox → Fachdienst (issue 15): with KIM_SUBMISSION_URL the portal submits the agent's
KOM-LE mail over SMTP with TLS as the mailbox's account (a short-lived signed token, the
account source accepts it for that address only), like a client module. The Fachdienst stores
it in the recipient's Maildir (POP3) or relays it to another KIM provider; the portal keeps only
the sender's „Gesendet“ copy, and the recipient's web mailbox indexes the delivered mail once.
Real in-process SMTP servers with TLS from the test CA; transactional DB, because the
server's worker threads read the accounts."""

from __future__ import annotations

import base64
import poplib

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError
from django.test import Client

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry
from kvportal.kim import fachdienst, komle, mail, relay, services_mailbox, submission
from kvportal.kim.accountsource import PortalAccountSource
from kvportal.kim.models import AccountState, Folder, StoredMessage
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

from .test_portal_mailbox import SECRET_SUBJECT, _card, _compose
from .test_portal_support import *  # noqa: F403 (fixtures)
from .test_portal_support import practice_account
from .test_server_fachdienst import free_port
from .test_server_relay import CAROL, OTHER, _provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(doctor, practice, registrar):
    """Two practice mailboxes of the KV's KIM service (as in test_portal_mailbox)."""
    a, _ = practice_account(doctor, practice, registrar, local="praxis-mueller")
    other_practice = BetriebsstaetteFactory(name="Praxis Schulz", city="Dresden")
    other = doctor_account(other_practice, Role.VERTRAGSARZT, Right.BILLING)
    b, _ = practice_account(other, other_practice, registrar, local="praxis-schulz")
    return {"a": a, "b": b, "doctor_a": doctor, "doctor_b": other}


@pytest.fixture
def fachdienst_a(pki, tmp_path, settings):
    """The KV's Fachdienst with the portal as account source, peer B for OTHER's domain."""
    b_source = fachdienst.InMemoryAccountSource({CAROL: "pw-carol-Test1"})
    b_peers: dict = {}  # B accepts mail from the KV's domain (filled in once A runs)
    b_sub, b_in, b_store, _ = _provider(tmp_path, "b", pki, b_source, b_peers)
    peers = {OTHER: relay.Peer(OTHER, "127.0.0.1", b_in.port)}
    a_sub, a_in, a_store, a_dir = _provider(tmp_path, "a", pki, PortalAccountSource(), peers)
    b_peers[settings.KIM_DOMAIN] = relay.Peer(settings.KIM_DOMAIN, "127.0.0.1", a_in.port)
    settings.KIM_STORE_DIR = str(a_dir / "store")
    settings.KIM_SUBMISSION_URL = f"smtp://127.0.0.1:{a_sub.port}"
    settings.KIM_SUBMISSION_CA = str(a_dir / "ca.pem")
    yield {"store": a_store, "peer_store": b_store, "dir": a_dir}
    for controller in (a_sub, a_in, b_sub, b_in):
        controller.stop()


def test_token_is_for_one_address_and_expires(monkeypatch):
    token = submission.submission_password("Praxis-A@kv.kim.example")
    assert submission.check_submission_password("praxis-a@kv.kim.example", token)
    assert not submission.check_submission_password("praxis-b@kv.kim.example", token)
    assert not submission.check_submission_password("praxis-a@kv.kim.example", token + "x")
    assert not submission.check_submission_password("praxis-a@kv.kim.example", "geheim")
    monkeypatch.setattr(submission, "TOKEN_MAX_AGE", -1)
    assert not submission.check_submission_password("praxis-a@kv.kim.example", token)


def test_account_source_accepts_the_token_only_for_its_live_account(pair):
    a, b = pair["a"], pair["b"]
    source = PortalAccountSource()
    assert source.check_password(a.address, submission.submission_password(a.address))
    assert not source.check_password(a.address, submission.submission_password(b.address))
    nobody = "niemand@kv.kim.example"
    assert not source.check_password(nobody, submission.submission_password(nobody))


def test_bad_submission_url_is_named_in_german():
    for bad in ("mail.kv.example:465", "http://mail.kv.example", "smtps://host:99x"):
        with pytest.raises(submission.SubmissionConfigError, match="KVPORTAL_KIM_SUBMISSION_URL"):
            submission.parse_url(bad)
    assert submission.parse_url("smtps://mail.kv.example") == submission.Endpoint(
        "mail.kv.example", 465, True
    )
    assert submission.parse_url("smtp://mail.kv.example").port == 587


def test_web_mailbox_sends_through_the_fachdienst_once(pair, fachdienst_a):
    a, b = pair["a"], pair["b"]
    raw = base64.b64decode(_compose(b, a)["mail"])
    stored = services_mailbox.send(actor=pair["doctor_b"], account=b, raw=raw)
    # the portal keeps only the sender's copy; the Fachdienst holds the recipient's
    assert [(m.account, m.folder) for m in stored] == [(b, Folder.SENT)]
    assert not StoredMessage.objects.filter(account=a).exists()
    (held,) = fachdienst_a["store"].messages(a.address)
    assert mail.split(held.read()).get("From") == b.address
    assert fachdienst_a["store"].messages(b.address) == []  # no copy, no report for the sender
    # the recipient's web mailbox indexes it from the store, once
    c = Client()
    c.force_login(pair["doctor_a"])
    assert b.address in c.get(f"/kim/postfach/{a.pk}/").content.decode()
    c.get(f"/kim/postfach/{a.pk}/")
    (inbox,) = StoredMessage.objects.filter(account=a)
    assert inbox.folder == Folder.INBOX and inbox.sender == b.address
    ciphertext = services_mailbox.open_message(actor=pair["doctor_a"], message=inbox)
    from kvportal.kim import agent_endpoints

    opened = agent_endpoints.handle_open(_card(a), {"mail": base64.b64encode(ciphertext).decode()})
    assert opened["subject"] == SECRET_SUBJECT and opened["signature_valid"]
    # one access-log entry for the send, without content
    (entry,) = AccessLogEntry.objects.filter(detail__kim="send")
    assert entry.detail["via"] == "fachdienst" and entry.detail["recipients"] == 1
    assert "Befund" not in str(entry.detail)


def test_the_recipient_fetches_it_over_pop3_too(pair, fachdienst_a, pki):
    """The mail is in the Fachdienst's store, so practice software gets it over POP3."""
    import asyncio
    import ssl
    import threading

    from django.contrib.auth.hashers import make_password

    a, b = pair["a"], pair["b"]
    a.password_hash = make_password("pw-Praxis-A-1")
    a.save(update_fields=["password_hash"])
    raw = base64.b64decode(_compose(b, a)["mail"])
    services_mailbox.send(actor=pair["doctor_b"], account=b, raw=raw)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    folder = fachdienst_a["dir"]
    server_ctx.load_cert_chain(folder / "srv.crt", folder / "srv.key")
    pop = fachdienst.Pop3Server(fachdienst_a["store"], source=PortalAccountSource(), tls=server_ctx)
    loop, ready, ports = asyncio.new_event_loop(), threading.Event(), []

    def run():
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(pop.start("127.0.0.1", 0, implicit_tls=True))
        ports.append(server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        client = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        conn = poplib.POP3_SSL("127.0.0.1", ports[0], context=client, timeout=20)
        conn.user(a.address)
        conn.pass_("pw-Praxis-A-1")
        assert conn.stat()[0] == 1
        fetched = b"\r\n".join(conn.retr(1)[1])
        conn.quit()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    body = mail.decoded_body(mail.split(fetched))
    assert komle.decrypt(body, _card(a).keys["enc"])  # the recipient's card opens it


def test_foreign_provider_recipient_is_relayed(pair, fachdienst_a, pki):
    b = pair["b"]
    carol_pem = pki["bob"].cert.public_bytes(serialization.Encoding.PEM).decode()
    from kvportal.kim import agent_endpoints

    built = agent_endpoints.handle_compose(
        _card(b),
        {"from": b.address, "to": [CAROL], "subject": SECRET_SUBJECT, "text": "Hallo\n",
         "certificates": {CAROL: [carol_pem]}},
    )  # fmt: skip
    services_mailbox.send(actor=pair["doctor_b"], account=b, raw=base64.b64decode(built["mail"]))
    (held,) = fachdienst_a["peer_store"].messages(CAROL)
    assert komle.decrypt(mail.decoded_body(mail.split(held.read())), pki["bob"].key)
    assert StoredMessage.objects.get(account=b).folder == Folder.SENT


def test_refusals_leave_nothing_behind(pair, fachdienst_a, settings):
    a, b = pair["a"], pair["b"]
    actor = pair["doctor_b"]
    # a recipient the Fachdienst does not know: refused at RCPT, nothing sent to anybody
    built = _compose(b, a)
    raw = base64.b64decode(built["mail"])
    both = raw.replace(
        f"To: {a.address}".encode(), f"To: {a.address}, niemand@{settings.KIM_DOMAIN}".encode()
    )
    with pytest.raises(ValidationError) as err:
        services_mailbox.send(actor=actor, account=b, raw=both)
    assert f"niemand@{settings.KIM_DOMAIN}" in err.value.messages[0]
    assert "550" in err.value.messages[0]
    assert fachdienst_a["store"].messages(a.address) == []
    assert not StoredMessage.objects.exists()
    # not KOM-LE: the portal refuses before anything leaves
    with pytest.raises(ValidationError, match="KOM-LE"):
        services_mailbox.send(actor=actor, account=b, raw=b"From: x\r\nTo: y\r\n\r\nKlartext")
    # Fachdienst down: a clear German message, nothing in „Gesendet“
    settings.KIM_SUBMISSION_URL = f"smtp://127.0.0.1:{free_port()}"
    with pytest.raises(ValidationError, match="nicht erreichbar"):
        services_mailbox.send(actor=actor, account=b, raw=raw)
    assert not StoredMessage.objects.exists()
    assert not AccessLogEntry.objects.filter(detail__kim="send").exists()


def test_send_view_reports_a_refusal_as_json(pair, fachdienst_a, settings):
    a, b = pair["a"], pair["b"]
    a.state = AccountState.DEREGISTERED
    a.save(update_fields=["state"])
    raw = base64.b64decode(_compose(b, a)["mail"])
    c = Client()
    c.force_login(pair["doctor_b"])
    response = c.post(
        f"/kim/postfach/{b.pk}/senden/",
        data={"mail": base64.b64encode(raw).decode()},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert a.address in response.json()["fehler"] and "Traceback" not in response.json()["fehler"]
