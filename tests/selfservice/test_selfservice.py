"""Issue 14 "Accounts": Passwort vergessen starts a real process, holders reset Praxispersonal
passwords and print the letter, the profile shows e-mail and active sessions (end them)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse

from kvportal.accounts.constants import AccountKind, Right
from kvportal.accounts.services import generate_initial_password
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.core.pdf import pdf_structure, pdf_text
from kvportal.members.constants import Role
from kvportal.selfservice.models import CredentialLetterRequest, SessionRecord
from tests.factories import PASSWORD, BetriebsstaetteFactory, UserFactory, doctor_account, grant

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    client = Client()
    assert client.post(
        reverse("accounts:login"), {"username": user.username, "password": PASSWORD}
    ).status_code in (302, 303)
    return client


# ------------------------------------------------------------------ sessions


def test_profile_lists_the_sessions_and_ends_another_one():
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    office, home = _login(user), _login(user)
    assert SessionRecord.objects.filter(user=user).count() == 2
    html = office.get(reverse("selfservice:profile")).content.decode()
    assert html.count("<tr") == 3  # header + two sessions
    assert 'id="current-session"' in html
    other = SessionRecord.objects.get(
        user=user, session_key=home.cookies[settings.SESSION_COOKIE_NAME].value
    )
    office.post(reverse("selfservice:session_end", args=[other.pk]))
    assert not Session.objects.filter(session_key=other.session_key).exists()
    # the other browser is signed out
    assert home.get(reverse("core:home")).status_code == 302
    assert office.get(reverse("core:home")).status_code == 200
    assert AccessLogEntry.objects.filter(
        user=user, activity=Activity.LOGOUT, object_type="selfservice.session"
    ).exists()


def test_end_all_other_sessions_keeps_the_current_one():
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    current, b, c = _login(user), _login(user), _login(user)
    current.post(reverse("selfservice:sessions_end_others"))
    assert current.get(reverse("core:home")).status_code == 200
    assert b.get(reverse("core:home")).status_code == 302
    assert c.get(reverse("core:home")).status_code == 302
    assert SessionRecord.objects.filter(user=user).count() == 1


def test_nobody_ends_a_session_of_someone_else():
    practice = BetriebsstaetteFactory()
    victim = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    attacker = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    victim_client, attacker_client = _login(victim), _login(attacker)
    record = SessionRecord.objects.get(user=victim)
    response = attacker_client.post(reverse("selfservice:session_end", args=[record.pk]))
    assert response.status_code == 404
    assert victim_client.get(reverse("core:home")).status_code == 200


def test_logout_removes_the_session_record():
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    client = _login(user)
    client.post(reverse("accounts:logout"))
    assert not SessionRecord.objects.filter(user=user).exists()


def test_email_change_with_german_error_and_audit():
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    client = _login(user)
    html = client.post(reverse("selfservice:profile"), {"email": "kaputt"}).content.decode()
    assert "gültige E-Mail-Adresse" in html and 'value="kaputt"' in html
    client.post(reverse("selfservice:profile"), {"email": "neu@praxis.example"})
    user.refresh_from_db()
    assert user.email == "neu@praxis.example"
    assert AccessLogEntry.objects.filter(user=user, activity=Activity.ACCOUNT_CHANGED).exists()


# ------------------------------------------------------------------ Passwort vergessen


def test_forgot_password_requests_a_letter_for_the_arztregister(
    client, settings, django_capture_on_commit_callbacks
):
    settings.ARZTREGISTER_EMAIL = "register@kv.example"
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    mail.outbox.clear()
    login_page = client.get(reverse("accounts:login")).content.decode()
    assert reverse("selfservice:forgot_password") in login_page
    page = client.get(reverse("selfservice:forgot_password")).content.decode()
    assert reverse("ehba:login") in page  # the eHBA route is offered
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("selfservice:forgot_password"),
            {"username": user.username, "bsnr": practice.bsnr},
        )
    assert response.status_code == 302
    request = CredentialLetterRequest.objects.get()
    assert request.user == user and request.handled_at is None
    assert [m.to for m in mail.outbox] == [["register@kv.example"]]
    assert user.username in mail.outbox[0].body
    # the password is unchanged until the letter is issued
    user.refresh_from_db()
    assert check_password(PASSWORD, user.password)


def test_forgot_password_does_not_reveal_whether_an_account_exists(
    client, django_capture_on_commit_callbacks
):
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    mail.outbox.clear()
    answers = []
    for username in (user.username, "gibt.es.nicht"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("selfservice:forgot_password"),
                {"username": username, "bsnr": practice.bsnr},
                follow=True,
            )
        answers.append(response.content.decode().split("<main", 1)[1].split("</main>")[0])
    assert answers[0] == answers[1]
    assert len(mail.outbox) == 1  # only the matching one reaches the Arztregister
    assert CredentialLetterRequest.objects.filter(user__isnull=True).count() == 1


def test_forgot_password_errors_name_the_field(client):
    html = client.post(
        reverse("selfservice:forgot_password"), {"username": "", "bsnr": "12345"}
    ).content.decode()
    assert "Bitte geben Sie Ihren Nutzernamen an." in html
    assert "Die BSNR hat genau neun Ziffern." in html
    assert 'value="12345"' in html
    assert not CredentialLetterRequest.objects.exists()


def test_arztregister_sees_and_closes_requests(staff_client, client):
    practice = BetriebsstaetteFactory()
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    client.post(
        reverse("selfservice:forgot_password"), {"username": user.username, "bsnr": practice.bsnr}
    )
    request = CredentialLetterRequest.objects.get()
    staff, _staff_user = staff_client("Arztregister")
    html = staff.get(reverse("selfservice:staff_requests")).content.decode()
    assert user.username in html and reverse("access:staff_reissue") in html
    staff.post(reverse("selfservice:staff_request_done", args=[request.pk]))
    request.refresh_from_db()
    assert request.handled_at is not None
    other = Client()
    other.force_login(user)
    assert other.get(reverse("selfservice:staff_requests")).status_code == 404


# ------------------------------------------------------------------ Praxispersonal reset


def _praxis_with_assistant():
    practice = BetriebsstaetteFactory(name="Praxis am Elbufer")
    holder = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    assistant = UserFactory(kind=AccountKind.PRAXISPERSONAL, first_name="Mia", last_name="Helfer")
    grant(assistant, practice, Right.BILLING)
    return practice, holder, assistant


def test_holder_resets_the_password_and_gets_the_letter():
    practice, holder, assistant = _praxis_with_assistant()
    assistant_client = _login(assistant)
    client = _login(holder)
    page = client.get(reverse("accounts:staff_accounts")).content.decode()
    url = reverse("selfservice:praxispersonal_reset", args=[assistant.pk])
    assert url in page
    response = client.post(url)
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf_structure(pdf)["tagged"]
    text = pdf_text(pdf)
    assert "Zugangsdaten zum Mitgliederportal" in text and practice.name in text
    password = re.search(r"Initialpasswort (\S+)", text).group(1)
    assistant.refresh_from_db()
    assert assistant.must_change_password and check_password(password, assistant.password)
    # the assistant's open sessions end with the old password
    assert assistant_client.get(reverse("core:home")).status_code == 302


def test_holder_cannot_reset_someone_elses_staff():
    _practice, holder, _assistant = _praxis_with_assistant()
    _other_practice, _other_holder, stranger = _praxis_with_assistant()
    client = _login(holder)
    response = client.post(reverse("selfservice:praxispersonal_reset", args=[stranger.pk]))
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert not stranger.must_change_password


def test_employed_doctor_without_delegable_right_cannot_reset():
    practice, _holder, assistant = _praxis_with_assistant()
    doctor = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    client = _login(doctor)
    response = client.post(reverse("selfservice:praxispersonal_reset", args=[assistant.pk]))
    assert response.status_code == 404


# ------------------------------------------------------------------ letters on paper


def test_initial_passwords_have_no_characters_ambiguous_on_paper():
    """Issue 14: "initial passwords without characters ambiguous on paper (0/O, 1/l/I)"."""
    seen = set()
    for _ in range(300):
        seen.update(generate_initial_password())
    assert not seen & set("0O1lI")
    assert len(seen) > 40  # still a large alphabet
