"""Member, signatory and office pages (Django test client)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from kvportal.admission import services
from kvportal.admission.models import Application
from tests.admission.conftest import pdf_bytes

pytestmark = pytest.mark.django_db


def test_list_and_new_draft_with_prefill(world, member_client):
    client = member_client(world.leiterin)
    page = client.get(reverse("admission:list"))
    assert page.status_code == 200 and "Neuer Antrag" in page.content.decode()
    page = client.get(reverse("admission:new"))
    assert "Erika Beispiel" in page.content.decode()
    response = client.post(
        reverse("admission:new"),
        {"type_code": "erhoehung_arzt", "employee": f"{world.mvz.pk}:{world.employee.pk}"},
    )
    application = Application.objects.get()
    assert response.url == reverse("admission:edit", args=[application.pk])
    page = client.get(response.url).content.decode()
    assert 'value="951234500"' in page and world.employee.lanr in page
    assert "Frühester erreichbarer Sitzungstermin: 13.01.2027" in page


def test_employee_without_applicant_role_cannot_apply(world, member_client):
    client = member_client(world.employee_user)
    assert "Neuer Antrag" not in client.get(reverse("admission:list")).content.decode()
    assert client.get(reverse("admission:new")).status_code == 404


def form_data(application, **overrides):
    data = {k: v for k, v in application.data.items() if isinstance(v, str)}
    data.update(overrides)
    return data


def test_edit_shows_german_errors_at_the_field(draft, world, member_client):
    client = member_client(world.leiterin)
    url = reverse("admission:edit", args=[draft.pk])
    response = client.post(
        url, form_data(draft, hours="35", effective_date="2027-02-15", check="1")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "35,0 Wochenstunden entsprechen dem Faktor 1,0, nicht 0,75" in page
    assert "Die Änderung ist nur zum Monatsbeginn möglich" in page
    # saved as a draft anyway (save and resume)
    draft.refresh_from_db()
    assert draft.data["hours"] == "35"


def test_edit_anlage1_rows_and_partners_roundtrip(draft, world, member_client):
    client = member_client(world.leiterin)
    url = reverse("admission:edit", args=[draft.pk])
    post = form_data(draft, mode="uebernahme", uebernahme_name="Dr. Alt", anlage1_waitlist="nein")
    post.update(
        {
            "a1-0-start": "2015-01-01", "a1-0-end": "2019-12-31", "a1-0-kind": "Assistenzärztin",
            "a1-0-institution": "Klinik, Dresden", "a1-0-weekly_hours": "40",
            "a1-0-evidence": "arztregister",
            "a1-1-start": "2020-02-01", "a1-1-end": "", "a1-1-kind": "Ärztin",
            "a1-1-institution": "MVZ", "a1-1-weekly_hours": "20", "a1-1-evidence": "anlage",
            "a1-2-start": "", "a1-2-end": "", "a1-2-kind": "", "a1-2-institution": "",
            "a1-2-weekly_hours": "", "a1-2-evidence": "",
            "check": "1",
        }
    )  # fmt: skip
    page = client.post(url, post).content.decode()
    assert "Lücke vom 01.01.2020 bis 31.01.2020" in page
    assert "Nachweise/Bescheinigungen über die ausgeübten ärztlichen Tätigkeiten" in page
    draft.refresh_from_db()
    assert len(draft.data["anlage1"]) == 2


def test_upload_rejects_non_pdf_at_the_field(draft, world, member_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = member_client(world.leiterin)
    post = form_data(draft, save="1")
    post["att_arbeitsvertrag"] = SimpleUploadedFile("vertrag.docx", b"PK\x03\x04 word")
    page = client.post(reverse("admission:edit", args=[draft.pk]), post).content.decode()
    assert "„vertrag.docx“ ist keine PDF-Datei" in page


def test_review_submit_confirm_and_download(draft, world, member_client, client):
    leiterin = member_client(world.leiterin)
    review = reverse("admission:review", args=[draft.pk])
    page = leiterin.get(review).content.decode()
    assert "Antragsgebühr 60,00 €" in page and "Bestätigung im Portal" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    # consent is required
    page = leiterin.post(review, {"token": token}).content.decode()
    assert "Bitte bestätigen Sie die Erklärung" in page
    response = leiterin.post(review, {"token": token, "consent": "1"})
    assert response.url == reverse("admission:detail", args=[draft.pk])
    # a double click: still one application
    leiterin.post(review, {"token": token, "consent": "1"})
    assert Application.objects.count() == 1
    draft.refresh_from_db()
    assert draft.state == "eingereicht"
    copy = leiterin.get(reverse("admission:file", args=[draft.pk, "antrag"]))
    assert copy.status_code == 200 and b"".join(copy.streaming_content).startswith(b"%PDF")
    # the employee confirms with his own login
    leiterin.logout()
    employee = member_client(world.employee_user)
    assert "Von Ihnen zu bestätigen" in employee.get(reverse("admission:list")).content.decode()
    signatory = draft.signatories.get(user=world.employee_user)
    employee.post(
        reverse("admission:confirm", args=[draft.pk]),
        {"signatory": signatory.pk, "consent": "1"},
    )
    draft.refresh_from_db()
    assert draft.state == "vollstaendig"


def test_out_of_scope_users_get_404(draft, world, member_client):
    from tests.factories import BetriebsstaetteFactory, doctor_account

    other = doctor_account(BetriebsstaetteFactory(), "vertragsarzt", "docs_bsnr")
    client = member_client(other)
    for name in ("detail", "edit", "review"):
        assert client.get(reverse(f"admission:{name}", args=[draft.pk])).status_code == 404
    assert client.get(reverse("admission:staff_inbox")).status_code == 404


def test_one_time_code_page(draft, world, client, mailoutbox, django_capture_on_commit_callbacks):
    application, url = submit_with_link(
        draft, world, mailoutbox, django_capture_on_commit_callbacks
    )
    page = client.get(url).content.decode()
    assert "Einmalcode per E-Mail senden" in page and application.reference in page
    assert client.get(url + "antrag.pdf").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"send": "1"})
    code = mailoutbox[-1].body.split("lautet: ")[1][:6]
    page = client.post(url, {"code": "999999" if code != "999999" else "111111", "consent": "1"})
    assert "Der Code ist falsch." in page.content.decode()
    page = client.post(url, {"code": code, "consent": "1"}, follow=True).content.decode()
    assert "Ihre Bestätigung ist gespeichert" in page
    application.refresh_from_db()
    assert application.state == "vollstaendig"
    # after the confirmation the link shows nothing of the application any more
    page = client.get(url).content.decode()
    assert "Keine Bestätigung mehr nötig" in page
    assert application.reference not in page and "Einmalcode" not in page
    assert client.get(url + "antrag.pdf").status_code == 404
    assert client.get(reverse("admission:confirm_code", args=["unbekannt"])).status_code == 404


def submit_with_link(draft, world, mailoutbox, capture):
    """Submit with an employee without portal login; return the application and the link
    from the invitation e-mail (the only place the raw token exists)."""
    world.employee_user.person = None
    world.employee_user.save()
    with capture(execute=True):
        application = services.submit(
            actor=world.leiterin, application=draft, token=str(draft.submission_token)
        )
    mail = next(m for m in mailoutbox if "Bitte bestätigen" in m.subject)
    url = re.search(r"(/zulassung/bestaetigung/[^/\s]+/)", mail.body).group(1)
    return application, url


def test_signatory_link_closes_when_application_is_withdrawn(
    draft, world, client, mailoutbox, django_capture_on_commit_callbacks
):
    application, url = submit_with_link(
        draft, world, mailoutbox, django_capture_on_commit_callbacks
    )
    services.withdraw(actor=world.leiterin, application=application)
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200 and "Keine Bestätigung mehr nötig" in page
    assert application.reference not in page and "Wochenstunden" not in page
    assert client.post(url, {"send": "1"}).status_code == 200
    assert not [m for m in mailoutbox if "Bestätigungscode" in m.subject]
    assert client.get(url + "antrag.pdf").status_code == 404


def test_code_button_refused_within_a_minute(
    draft, world, client, mailoutbox, django_capture_on_commit_callbacks, time_machine
):
    _application, url = submit_with_link(
        draft, world, mailoutbox, django_capture_on_commit_callbacks
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"send": "1"})
    time_machine.shift(dt.timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(url, {"send": "1"}).content.decode()
    assert "Bitte warten Sie eine Minute" in page
    assert len([m for m in mailoutbox if "Bestätigungscode" in m.subject]) == 1


def test_bad_signatory_id_is_404(draft, world, member_client):
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    client = member_client(world.employee_user)
    url = reverse("admission:confirm", args=[application.pk])
    for value in ("abc", "", "1 OR 1=1"):
        assert client.post(url, {"signatory": value, "consent": "1"}).status_code == 404
    assert client.post(url, {"consent": "1"}).status_code == 404


def test_office_pages_and_actions(draft, world, staff_client):
    client, _office = staff_client("Zulassung")
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    services.confirm(
        actor=world.employee_user, signatory=application.signatories.get(user=world.employee_user)
    )
    inbox = client.get(reverse("admission:staff_inbox"), {"bezirk": "dresden"})
    assert application.reference in inbox.content.decode()
    assert (
        application.reference
        not in client.get(reverse("admission:staff_inbox"), {"bezirk": "leipzig"}).content.decode()
    )
    page = client.get(reverse("admission:staff_detail", args=[application.pk])).content.decode()
    assert "Vollständigkeitsprüfung" in page and "Gebühr anfordern" in page

    def act(action, **data):
        return client.post(reverse("admission:staff_action", args=[application.pk, action]), data)

    act("gebuehr", deadline="2026-11-20")  # past: German error, nothing happens
    application.refresh_from_db()
    assert application.state == "vollstaendig"
    act("gebuehr", deadline="2026-12-14")
    act("zahlung", paid_on="2026-11-23", reference="K-7")
    act("terminieren", session=world.sessions[0].pk)
    act("beschluss", outcome="genehmigt", reasons="")
    application.refresh_from_db()
    assert application.state == "genehmigt"
    agenda = client.get(reverse("admission:agenda", args=[world.sessions[0].pk]))
    assert agenda.status_code == 200 and agenda.content.startswith(b"%PDF")
    page = client.post(
        reverse("admission:sessions"),
        {"bezirk": "leipzig", "committee": "psychotherapie", "date": "2027-05-19"},
    )
    assert page.status_code == 302


def test_nachforderung_answer_with_upload(draft, world, member_client, staff_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _, office = staff_client("Zulassung")
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    services.confirm(
        actor=world.employee_user, signatory=application.signatories.get(user=world.employee_user)
    )
    services.request_documents(actor=office, application=application, text="Unterschrift fehlt")
    client = member_client(world.leiterin)
    page = client.get(reverse("admission:detail", args=[application.pk])).content.decode()
    assert "Unterschrift fehlt" in page
    client.post(
        reverse("admission:answer", args=[application.pk]),
        {"answer": "", "file": SimpleUploadedFile("u.pdf", pdf_bytes("u"))},
    )
    application.refresh_from_db()
    assert application.state == "vollstaendig"
    assert application.attachments.filter(kind="nachreichung").count() == 1


def test_withdraw_and_reopen(draft, world, member_client):
    client = member_client(world.leiterin)
    services.submit(actor=world.leiterin, application=draft, token=str(draft.submission_token))
    client.post(reverse("admission:reopen", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.state == "entwurf"
    services.submit(actor=world.leiterin, application=draft, token=str(draft.submission_token))
    client.post(
        reverse("admission:withdraw", args=[draft.pk]),
        {"reason": "Stundenänderung entfällt.", "confirmed": "on"},
    )
    draft.refresh_from_db()
    assert draft.state == "zurueckgenommen"
    assert dt.date(2027, 2, 1) == draft.effective_date


def test_start_page_panel_shows_pending_confirmation(draft, world, member_client):
    services.submit(actor=world.leiterin, application=draft, token=str(draft.submission_token))
    page = member_client(world.employee_user).get(reverse("core:home")).content.decode()
    assert 'id="admission-panel"' in page and "1 Antrag wartet auf Ihre Bestätigung" in page


def test_session_delete_only_without_applications(world, staff_client):
    client, office = staff_client("Zulassung")
    empty, used = world.sessions[2], world.sessions[0]
    Application.objects.create(
        type_code="erhoehung_arzt",
        betriebsstaette=world.mvz,
        committee="aerzte",
        created_by=office,
        state="terminiert",
        session=used,
    )
    confirmed = {"reason": "Doppelt angelegt.", "confirmed": "on"}
    client.post(reverse("admission:session_delete", args=[used.pk]), confirmed)
    client.post(reverse("admission:session_delete", args=[empty.pk]), confirmed)
    remaining = set(type(empty).objects.values_list("pk", flat=True))
    assert used.pk in remaining and empty.pk not in remaining


def test_office_cannot_download_files_of_drafts(draft, world, staff_client):
    client, _office = staff_client("Zulassung")
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    attachment = application.attachments.first()
    file_url = reverse("admission:staff_file", args=[application.pk, "antrag"])
    attachment_url = reverse("admission:staff_attachment", args=[application.pk, attachment.pk])
    assert client.get(file_url).status_code == 200
    assert client.get(attachment_url).status_code == 200
    # taken back into draft: it belongs to the practice again, copy and uploads included
    services.reopen(actor=world.leiterin, application=application)
    assert application.files.filter(kind="antrag").exists()
    assert client.get(file_url).status_code == 404
    assert client.get(attachment_url).status_code == 404
