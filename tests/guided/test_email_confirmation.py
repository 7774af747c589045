"""Issue 14: notifications on by default with a confirmed address – a secret link confirms the
address (core.confirmation), the first confirmation switches the document notice on, the
profile shows the state, an unconfirmed address gets no notice and a task to confirm."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from kvportal.accounts.constants import Right
from kvportal.documents.services import recipients_for
from kvportal.members.constants import Role
from kvportal.selfservice import services, todo
from kvportal.selfservice.models import EmailConfirmation
from tests.factories import BetriebsstaetteFactory, doctor_account

pytestmark = pytest.mark.django_db
LINK = re.compile(r"/konto/email-bestaetigen/([A-Za-z0-9_\-]+)/")


@pytest.fixture
def new_account():
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.DOCS_BSNR)
    assert not user.notify_by_email  # a new account starts without the notice
    return user


def _request(user, capture) -> str:
    with capture(execute=True):
        services.request_email_confirmation(actor=user)
    token = LINK.search(mail.outbox[-1].body).group(1)
    assert mail.outbox[-1].to == [user.email]
    return token


def test_confirmation_switches_the_notice_on(new_account, django_capture_on_commit_callbacks):
    token = _request(new_account, django_capture_on_commit_callbacks)
    row = EmailConfirmation.objects.get(user=new_account)
    assert token not in row.token_hash  # only the hash is stored
    services.confirm_email(raw_token=token)
    new_account.refresh_from_db()
    assert new_account.notify_by_email
    assert new_account.email_confirmation.confirms(new_account.email)
    # a second use of the link is refused
    with pytest.raises(ValidationError):
        services.confirm_email(raw_token=token)


def test_switched_off_notice_stays_off_after_a_later_confirmation(
    new_account, django_capture_on_commit_callbacks
):
    services.confirm_email(raw_token=_request(new_account, django_capture_on_commit_callbacks))
    new_account.refresh_from_db()
    new_account.notify_by_email = False
    new_account.email = "neu@praxis.example"
    new_account.save()
    row = EmailConfirmation.objects.get(user=new_account)
    row.sent_at = timezone.now() - dt.timedelta(minutes=5)  # past the resend pause
    row.save()
    services.confirm_email(raw_token=_request(new_account, django_capture_on_commit_callbacks))
    new_account.refresh_from_db()
    assert not new_account.notify_by_email  # the user's own choice is kept


def test_expired_or_foreign_address_link_refused(new_account, django_capture_on_commit_callbacks):
    token = _request(new_account, django_capture_on_commit_callbacks)
    later = timezone.now() + services.EMAIL_LINK_VALIDITY + dt.timedelta(minutes=1)
    with pytest.raises(ValidationError, match="abgelaufen"):
        services.confirm_email(raw_token=token, now=later)
    new_account.email = "andere@praxis.example"
    new_account.save()
    with pytest.raises(ValidationError, match="früheren E-Mail-Adresse"):
        services.confirm_email(raw_token=token)


def test_resend_is_limited(new_account, django_capture_on_commit_callbacks):
    _request(new_account, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError, match="Bestätigungslink"):
        services.request_email_confirmation(actor=new_account)


def test_unknown_or_used_link_is_refused(client):
    response = client.post("/konto/email-bestaetigen/nicht-geraten/")
    assert response.status_code == 200
    assert "ungültig" in html.unescape(response.content.decode())


def _document(practice):
    from kvportal.core.quarters import Quarter
    from kvportal.documents.models import Document, quarter_to_int

    today = timezone.localdate()
    return Document.objects.create(
        betriebsstaette=practice,
        quarter=quarter_to_int(Quarter.of(today).previous()),
        lanr="",
        doc_type="richtigstellung",
        title="Richtigstellung",
        file="documents/x.pdf",
        sha256="a" * 64,
        deletion_date=today.replace(year=today.year + 10),
    )


def _fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_unconfirmed_address_gets_no_notice_and_a_task(
    new_account, django_capture_on_commit_callbacks
):
    practice = new_account.portal_rights.first().betriebsstaette
    document = _document(practice)
    new_account.notify_by_email = True  # switched on, but the address is not confirmed
    new_account.save()
    token = _request(new_account, django_capture_on_commit_callbacks)
    assert new_account not in recipients_for(document)
    labels = [t.label for t in todo.tasks(_fresh(new_account))]
    assert "E-Mail-Adresse bestätigen" in labels
    services.confirm_email(raw_token=token)
    assert new_account in recipients_for(document)
    assert todo.tasks(_fresh(new_account)) == []


def test_accounts_from_before_keep_their_notice(new_account):
    """Decision: an opted-in account without any confirmation row (created before issue 14)
    keeps its notices; it sees the task to confirm."""
    document = _document(new_account.portal_rights.first().betriebsstaette)
    new_account.notify_by_email = True
    new_account.save()
    assert new_account in recipients_for(document)
    assert [t.label for t in todo.tasks(_fresh(new_account))] == ["E-Mail-Adresse bestätigen"]


def test_profile_shows_the_state_and_sends_the_link(
    client, new_account, django_capture_on_commit_callbacks
):
    client.force_login(new_account)
    page = html.unescape(client.get("/konto/profil/").content.decode())
    assert "nicht bestätigt" in page and "Bestätigungslink senden" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/konto/profil/email-bestaetigen/")
    token = LINK.search(mail.outbox[-1].body).group(1)
    confirm_page = client.get(f"/konto/email-bestaetigen/{token}/")
    assert confirm_page.status_code == 200  # GET only shows the button (link scanners)
    assert not EmailConfirmation.objects.get(user=new_account).confirmed_at
    response = client.post(f"/konto/email-bestaetigen/{token}/")
    assert response.url == "/konto/profil/"
    page = html.unescape(client.get("/konto/profil/").content.decode())
    assert f"{new_account.email} ist bestätigt." in page
    assert "Benachrichtigung über neue Dokumente: an." in page


def test_changing_the_address_sends_a_link_and_unconfirms(
    client, new_account, django_capture_on_commit_callbacks
):
    client.force_login(new_account)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/konto/profil/", {"email": "neu@praxis.example"})
    assert mail.outbox[-1].to == ["neu@praxis.example"]
    page = html.unescape(client.get("/konto/profil/").content.decode())
    assert "neu@praxis.example ist noch nicht bestätigt" in page
