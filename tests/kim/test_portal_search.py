"""Search in the web mailbox (issue 15: "search by sender/subject"). Sender, recipients and
Dienstkennung are searched on the server (they are envelope data the Fachdienst knows); the
subject is inside the ciphertext, so the page gets the folder's newest ciphertexts
(`…/betreffsuche/`, not marked read, one access-log entry without the term), the agent
decrypts their headers (`/kim/headers`) and the page filters — the term never reaches the
server."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry
from kvportal.kim import agent_endpoints, selectors, services_mailbox, views_mailbox
from kvportal.kim.models import Folder, StoredMessage
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, doctor_account

from .test_portal_mailbox import _card, _compose
from .test_portal_support import *  # noqa: F403 (fixtures)
from .test_portal_support import practice_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def boxes(doctor, practice, registrar):
    a, _ = practice_account(doctor, practice, registrar, local="praxis-mueller")
    result = {"a": a, "doctor_a": doctor}
    for key, name, local in (("b", "Praxis Schulz", "praxis-schulz"), ("c", "Praxis Dritt",
                                                                      "praxis-dritt")):  # fmt: skip
        bs = BetriebsstaetteFactory(name=name, city="Dresden")
        user = doctor_account(bs, Role.VERTRAGSARZT, Right.BILLING)
        result[key], _ = practice_account(user, bs, registrar, local=local)
        result[f"doctor_{key}"] = user
    return result


def _send(boxes, sender: str, recipient: str, subject: str) -> bytes:
    raw = base64.b64decode(_compose(boxes[sender], boxes[recipient], subject=subject)["mail"])
    services_mailbox.send(actor=boxes[f"doctor_{sender}"], account=boxes[sender], raw=raw)
    return raw


def test_server_side_search_by_sender_recipient_dienstkennung(boxes):
    a = boxes["a"]
    _send(boxes, "b", "a", "Befund Knie")
    _send(boxes, "c", "a", "Laborwerte")
    found = selectors.search_messages(a, Folder.INBOX, "schulz")
    assert [m.sender for m in found] == [boxes["b"].address]
    assert selectors.search_messages(a, Folder.INBOX, "KIM-Mail").count() == 2
    assert selectors.search_messages(a, Folder.INBOX, "Knie").count() == 0  # subject: encrypted
    sent = selectors.search_messages(boxes["b"], Folder.SENT, "mueller")
    assert [m.recipients for m in sent] == [[a.address]]


def test_agent_returns_decrypted_headers_and_a_fehler_per_unreadable_mail(boxes):
    for_a = _send(boxes, "b", "a", "Befund Knie links")
    not_for_a = _send(boxes, "c", "b", "Laborwerte")
    result = agent_endpoints.handle_headers(
        _card(boxes["a"]),
        {"mails": [{"id": 1, "mail": base64.b64encode(m).decode()} for m in (for_a, not_for_a)]},
    )
    first, second = result["headers"]
    assert first["id"] == 1 and first["subject"] == "Befund Knie links"
    assert first["from"] == boxes["b"].address and first["signature_valid"]
    assert "text" not in first and "attachments" not in first
    assert second["code"] == "not_recipient" and second["fehler"]
    for bad in ({}, {"mails": []}, {"mails": [{"id": 1}] * 51}):
        with pytest.raises(agent_endpoints.AgentError):
            agent_endpoints.handle_headers(_card(boxes["a"]), bad)
    assert "/kim/headers" in agent_endpoints.ROUTES


def test_subject_search_endpoint_hands_out_ciphertext_only_without_marking_read(boxes):
    a = boxes["a"]
    _send(boxes, "b", "a", "Befund Knie links")
    _send(boxes, "c", "a", "Laborwerte")
    c = Client()
    c.force_login(boxes["doctor_a"])
    response = c.get(f"/kim/postfach/{a.pk}/betreffsuche/?ordner=inbox&betreff=Knie")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    data = response.json()
    assert len(data["nachrichten"]) == 2 and data["ausgelassen"] == 0
    assert b"Knie" not in response.content and b"Laborwerte" not in response.content
    # the page's part: the agent reads the subjects, the page filters
    headers = agent_endpoints.handle_headers(
        _card(a), {"mails": [{"id": m["id"], "mail": m["mail"]} for m in data["nachrichten"]]}
    )["headers"]
    hits = [h["id"] for h in headers if "knie" in h["subject"].lower()]
    assert hits == [StoredMessage.objects.get(account=a, sender=boxes["b"].address).pk]
    # nothing marked read; one access-log entry with the count, no term, no subject
    assert StoredMessage.objects.filter(account=a, read_at__isnull=True).count() == 2
    (entry,) = AccessLogEntry.objects.filter(detail__kim="search")
    assert entry.detail["count"] == 2
    assert "Knie" not in json.dumps([entry.detail, entry.path, entry.object_repr])
    # narrowed by the server-side sender search
    narrowed = c.get(f"/kim/postfach/{a.pk}/betreffsuche/?ordner=inbox&suche=dritt").json()
    assert [m["absender"] for m in narrowed["nachrichten"]] == [boxes["c"].address]
    # bad folder: German message; foreign mailbox: 404
    bad = c.get(f"/kim/postfach/{a.pk}/betreffsuche/?ordner=spam")
    assert bad.status_code == 400 and "Ordner" in bad.json()["fehler"]
    assert c.get(f"/kim/postfach/{boxes['b'].pk}/betreffsuche/").status_code == 404


def test_subject_search_leaves_out_large_and_old_mails(boxes, monkeypatch):
    a = boxes["a"]
    for subject in ("eins", "zwei", "drei"):
        _send(boxes, "b", "a", subject)
    big = StoredMessage.objects.filter(account=a).order_by("pk").first()
    big.size = views_mailbox.SUBJECT_SEARCH_MAX_SIZE + 1
    big.save(update_fields=["size"])
    monkeypatch.setattr(views_mailbox, "SUBJECT_SEARCH_LIMIT", 1)
    c = Client()
    c.force_login(boxes["doctor_a"])
    data = c.get(f"/kim/postfach/{a.pk}/betreffsuche/").json()
    assert len(data["nachrichten"]) == 1 and data["ausgelassen"] == 2
    assert data["nachrichten"][0]["id"] != big.pk


def test_mailbox_page_offers_the_subject_search_form(boxes):
    a = boxes["a"]
    c = Client()
    c.force_login(boxes["doctor_a"])
    html = c.get(f"/kim/postfach/{a.pk}/?ordner=sent&suche=x").content.decode()
    assert "data-kim-subject-search" in html and "kim/postfach.js" in html
    assert f"/kim/postfach/{a.pk}/betreffsuche/?ordner=sent&amp;suche=x" in html
