"""The access pages: public entry, draft/review/submit, confirmation, back office, PDFs."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from pypdf import PdfReader

from kvportal.access import rules, services
from kvportal.access.forms import new_form_stamp
from kvportal.access.models import AccessApplication, CredentialLetter
from kvportal.accounts.constants import Right, StaffRole
from kvportal.core.pdf import pdf_text
from tests.access.helpers import (
    DRAFT_RE,
    codes_by_email,
    draft,
    mvz_world,
    new_lanr,
    persons_for,
)
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from django.core.cache import cache

    cache.clear()


def start(client, **extra):
    data = {
        "variant": "mvz",
        "contact_email": "kontakt@mvz.example",
        "website": "",
        "stamp": new_form_stamp(),
        "nonce": "nonce-1",
        **extra,
    }
    return client.post("/zugang/beantragen/", data)


def form_data(app_header: dict, persons: list[dict], *, action="save", ack=True) -> dict:
    data = {
        "variant": "mvz",
        "traeger_name": "MVZ Träger GmbH",
        **app_header,
        "p-TOTAL_FORMS": str(len(persons)),
        "p-INITIAL_FORMS": "0",
        "action": action,
    }
    if ack:
        data["acknowledge"] = "on"
    for i, row in enumerate(persons):
        for key, value in row.items():
            if isinstance(value, bool):
                if value:
                    data[f"p-{i}-{key}"] = "on"
            else:
                data[f"p-{i}-{key}"] = value
    return data


# --- public entry / anti-automation ---------------------------------------------------------


def test_entry_page_public_and_double_post_creates_one(client):
    assert client.get("/zugang/beantragen/").status_code == 200
    first = start(client)
    second = start(client)
    assert first.status_code == second.status_code == 302
    assert AccessApplication.objects.count() == 1
    app = AccessApplication.objects.get()
    assert first["Location"] == f"/zugang/antrag/{app.reference}/bearbeiten/"


def test_honeypot_and_tampered_stamp_refuse_bots(client):
    response = start(client, website="http://spam.example")
    assert "automatisiert" in response.content.decode()
    response = start(client, nonce="n3", stamp="manipuliert")
    assert "verändert" in response.content.decode()
    assert AccessApplication.objects.count() == 0


def test_other_browser_cannot_open_the_draft(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        start(client)
    app = AccessApplication.objects.get()
    from django.test import Client

    other = Client()
    assert other.get(f"/zugang/antrag/{app.reference}/bearbeiten/").status_code == 404
    token = DRAFT_RE.search(mail.outbox[0].body).group(1)
    assert other.get(f"/zugang/entwurf/{token}/").status_code == 302
    assert other.get(f"/zugang/antrag/{app.reference}/bearbeiten/").status_code == 200
    assert Client().get("/zugang/entwurf/unbekannt/").status_code == 404


# --- edit, review, submit ------------------------------------------------------------------


def test_errors_shown_at_the_field(client):
    practice, leiter, arzt = mvz_world()
    start(client)
    app = AccessApplication.objects.get()
    persons = persons_for(leiter, arzt)
    persons[2]["lanr"] = arzt.lanr[:6] + str((int(arzt.lanr[6]) + 1) % 10) + arzt.lanr[7:]
    persons[2]["right_docs_lanr"] = False
    header = {"practice_name": practice.name, "bsnr": "721234500"}
    response = client.post(
        f"/zugang/antrag/{app.reference}/bearbeiten/", form_data(header, persons, action="review")
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Bitte korrigieren Sie zuerst" in page
    page = client.get(f"/zugang/antrag/{app.reference}/bearbeiten/?pruefen=1").content.decode()
    assert "nicht zur KV Sachsen" in page
    assert "Prüfziffer" in page
    assert "mindestens eine Berechtigung" in page


def test_add_row_and_full_submit_path(client, django_capture_on_commit_callbacks):
    practice, leiter, arzt = mvz_world()
    start(client)
    app = AccessApplication.objects.get()
    header = {"practice_name": practice.name, "bsnr": practice.bsnr}
    persons = persons_for(leiter, arzt)
    page = client.post(
        f"/zugang/antrag/{app.reference}/bearbeiten/", form_data(header, persons, action="add_row")
    ).content.decode()
    assert 'name="p-3-last_name"' in page
    client.post(
        f"/zugang/antrag/{app.reference}/bearbeiten/", form_data(header, persons, action="review")
    )
    review = client.get(f"/zugang/antrag/{app.reference}/pruefen/").content.decode()
    assert "Zur Bestätigung absenden" in review
    assert "Abrechnung automatisch (Ärztlicher Leiter)" in review
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/zugang/antrag/{app.reference}/pruefen/")
        client.post(f"/zugang/antrag/{app.reference}/pruefen/")  # double submit
    app.refresh_from_db()
    assert app.status == rules.Status.BESTAETIGUNG
    assert app.confirmations.count() == 3
    status = client.get(f"/zugang/antrag/{app.reference}/").content.decode()
    assert "Es fehlen noch 3 Bestätigungen" in status
    # the confirmation page with the code
    token, code = codes_by_email()["arzt@mvz.example"]
    page = client.get(f"/zugang/bestaetigen/{token}/").content.decode()
    assert "Angestellter Arzt" in page
    bad = client.post(f"/zugang/bestaetigen/{token}/", {"action": "code", "code": "000000"})
    if code != "000000":
        assert "Der Code ist falsch" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/zugang/bestaetigen/{token}/", {"action": "code", "code": code})
    done = client.get(f"/zugang/bestaetigen/{token}/").content.decode()
    assert "Vielen Dank" in done
    status = client.get(f"/zugang/antrag/{app.reference}/").content.decode()
    assert "Es fehlen noch 2 Bestätigungen" in status
    # PDF copy laid out like the paper form
    pdf = client.get(f"/zugang/antrag/{app.reference}/pdf/")
    text = pdf_text(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content)
    assert "Zusatzblatt" in text and practice.bsnr in text and arzt.lanr in text
    assert "Datenschutzerklärung" in text


# --- member path ---------------------------------------------------------------------------


def test_member_applies_from_account_with_panel(client):
    practice = BetriebsstaetteFactory(mvz=True)
    user = doctor_account(practice, "aerztlicher_leiter", Right.DOCS_BSNR)
    client.force_login(user)
    home = client.get("/").content.decode()
    assert "Weitere Personen oder Rechte beantragen" in home
    page = client.get("/zugang/beantragen/").content.decode()
    assert practice.bsnr in page and "captcha" not in page
    response = client.post(
        "/zugang/beantragen/",
        {
            "variant": "mvz",
            "contact_email": user.email,
            "stamp": new_form_stamp(),
            "nonce": "m1",
            "bsnr": practice.bsnr,
        },
    )
    app = AccessApplication.objects.get()
    assert response.status_code == 302 and app.created_by == user
    assert app.bsnr == practice.bsnr and app.practice_name == practice.name
    listing = client.get("/zugang/meine-antraege/").content.decode()
    assert app.reference in listing


# --- back office ---------------------------------------------------------------------------


def ready_application(capture):
    practice, leiter, arzt = mvz_world()
    app = draft(practice, leiter, arzt)
    with capture(execute=True):
        services.submit(actor=None, application=app)
    for _email, (token, code) in codes_by_email().items():
        with capture(execute=True):
            services.confirm_with_code(
                actor=None, confirmation=services.find_confirmation(token), code=code
            )
    app.refresh_from_db()
    return app, practice, leiter, arzt


def test_queue_requires_arztregister(staff_client, client):
    assert client.get("/zugang/kv/antraege/").status_code in (302, 404)
    other, _ = staff_client(StaffRole.ABRECHNUNG)
    assert other.get("/zugang/kv/antraege/").status_code == 404


def test_queue_filters_detail_approve_and_letters(staff_client, django_capture_on_commit_callbacks):
    app, practice, _leiter, _arzt = ready_application(django_capture_on_commit_callbacks)
    c, _user = staff_client(StaffRole.ARZTREGISTER)
    queue = c.get("/zugang/kv/antraege/").content.decode()
    assert app.reference in queue
    assert app.reference not in c.get("/zugang/kv/antraege/?status=genehmigt").content.decode()
    assert app.reference in c.get(f"/zugang/kv/antraege/?q={practice.bsnr}").content.decode()
    detail = c.get(f"/zugang/kv/antraege/{app.pk}/").content.decode()
    assert "Genehmigen und Konten anlegen" in detail
    with django_capture_on_commit_callbacks(execute=True):
        c.post(f"/zugang/kv/antraege/{app.pk}/entscheiden/", {"action": "approve"})
    app.refresh_from_db()
    assert app.status == rules.Status.GENEHMIGT
    letters = list(CredentialLetter.objects.filter(application=app).order_by("pk"))
    assert len(letters) == 2
    single = c.post(f"/zugang/kv/zugangsschreiben/{letters[0].pk}/drucken/")
    assert single["Content-Type"] == "application/pdf"
    assert single["Cache-Control"] == "no-store"
    text = pdf_text(single.content)
    assert len(PdfReader(io.BytesIO(single.content)).pages) == 1  # one sheet for the post
    user = letters[0].user
    assert "Zugangsdaten zum Mitgliederportal" in text
    assert user.username in text and practice.street in text
    assert "Konventionen für Ihr Passwort" in text and "30 Tage" in text
    password = re.search(r"Initialpasswort (\S+)", text).group(1)
    user.refresh_from_db()
    assert user.check_password(password)
    batch = c.post("/zugang/kv/zugangsschreiben/sammeldruck/", {"application": app.pk})
    batch_text = pdf_text(batch.content)
    assert batch_text.count("Zugangsdaten zum Mitgliederportal") == 1  # only unprinted one
    assert letters[1].user.username in batch_text
    # the status e-mail tells the applicant about the post, without health data
    assert any("Genehmigt" in m.subject for m in mail.outbox)


def test_corrections_then_resubmit(staff_client, client, django_capture_on_commit_callbacks):
    app, *_ = ready_application(django_capture_on_commit_callbacks)
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    response = c.post(f"/zugang/kv/antraege/{app.pk}/entscheiden/", {"action": "corrections"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == rules.Status.EINGEREICHT  # a message is required
    with django_capture_on_commit_callbacks(execute=True):
        c.post(
            f"/zugang/kv/antraege/{app.pk}/entscheiden/",
            {"action": "corrections", "message": "Bitte Träger vollständig angeben."},
        )
    app.refresh_from_db()
    assert app.status == rules.Status.NACHBESSERUNG
    assert any("Nachbesserung" in m.subject for m in mail.outbox)


def _flags_box(page: str) -> str:
    match = re.search(r'<div[^>]*id="review-flags".*?</div>', page, re.S)
    return match.group(0) if match else ""


def test_registry_results_hidden_from_applicants_shown_to_staff(
    client, staff_client, django_capture_on_commit_callbacks
):
    """Finding 8: an (anonymous) applicant cannot probe the Arztregister; staff see the flag."""
    practice, leiter, arzt = mvz_world()
    header = {"practice_name": practice.name, "bsnr": practice.bsnr}
    boxes = {}
    for nonce, lanr in (("n-known", arzt.lanr), ("n-unknown", new_lanr("777001"))):
        start(client, nonce=nonce)
        app = AccessApplication.objects.order_by("-pk").first()
        persons = persons_for(leiter, arzt)
        persons[2]["lanr"] = lanr
        client.post(
            f"/zugang/antrag/{app.reference}/bearbeiten/",
            form_data(header, persons, action="review"),
        )
        page = client.get(f"/zugang/antrag/{app.reference}/pruefen/").content.decode()
        assert "Zur Bestätigung absenden" in page
        assert "nicht bekannt" not in page and "nicht aktiv" not in page
        assert rules.NEUTRAL_PERSON_NOTE in page
        boxes[nonce] = _flags_box(page)
    # known and unknown LANR: the applicant sees exactly the same hints
    assert boxes["n-known"] and boxes["n-known"] == boxes["n-unknown"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/zugang/antrag/{app.reference}/pruefen/")
    for _email, (token, code) in codes_by_email().items():
        with django_capture_on_commit_callbacks(execute=True):
            services.confirm_with_code(
                actor=None, confirmation=services.find_confirmation(token), code=code
            )
    app.refresh_from_db()
    assert app.status == rules.Status.EINGEREICHT
    status = client.get(f"/zugang/antrag/{app.reference}/").content.decode()
    assert "nicht bekannt" not in status
    c, _user = staff_client(StaffRole.ARZTREGISTER)
    detail = c.get(f"/zugang/kv/antraege/{app.pk}/").content.decode()
    assert f"Die LANR {persons[2]['lanr']} ist im Arztregister nicht bekannt." in detail
