"""core/confirmation.py: one primitive for "secret link + one-time e-mail code" (issue 13),
used by the access application and by admission; links and codes from before still work."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest
from django.utils import timezone

from kvportal.core import confirmation as one_time
from tests.admission.conftest import draft, frozen, world  # noqa: F401 (fixtures)


def test_tokens_are_32_random_bytes_stored_as_sha256():
    raw, digest = one_time.new_token()
    assert len(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) == 32
    assert digest == hashlib.sha256(raw.encode()).hexdigest()
    assert one_time.token_matches(digest, raw)
    assert not one_time.token_matches(digest, raw[:-1])
    assert not one_time.token_matches("", "")
    assert one_time.new_token()[0] != raw


def test_token_length_follows_the_setting(settings):
    settings.CONFIRMATION_TOKEN_BYTES = 48
    raw, _ = one_time.new_token()
    assert len(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))) == 48


def test_codes_are_hmac_bound_to_purpose_row_and_secret(settings):
    code = one_time.new_code()
    assert len(code) == 6 and code.isdigit()
    stored = one_time.hash_code(code, purpose="access", key=7)
    assert stored != hashlib.sha256(code.encode()).hexdigest()  # not a plain hash
    assert one_time.code_matches(stored, f" {code} ", purpose="access", key=7)
    assert not one_time.code_matches(stored, code, purpose="admission", key=7)
    assert not one_time.code_matches(stored, code, purpose="access", key=8)
    assert not one_time.code_matches(stored, "", purpose="access", key=7)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only"
    assert not one_time.code_matches(stored, code, purpose="access", key=7)


def test_a_legacy_hash_is_accepted_only_when_given():
    legacy = hmac.new(b"k", b"1:123456", hashlib.sha256).hexdigest()
    assert not one_time.code_matches(legacy, "123456", purpose="admission", key=1)
    assert one_time.code_matches(legacy, "123456", purpose="admission", key=1, legacy=[legacy])


def test_attempts_and_validity(settings):
    now = timezone.now()
    assert one_time.attempt_refusal(attempts=4, sent_at=now, now=now) == ""
    assert "Zu viele Fehlversuche" in one_time.attempt_refusal(attempts=5, sent_at=now, now=now)
    late = now + dt.timedelta(minutes=31)
    assert "abgelaufen" in one_time.attempt_refusal(attempts=0, sent_at=now, now=late)
    # a code that lives with its link (sent_at None) has no expiry of its own
    assert one_time.attempt_refusal(attempts=0, sent_at=None, now=late) == ""
    assert one_time.wrong_code_message(1) == "Der Code ist falsch. Verbleibende Versuche: 4."
    assert "neuen Code" in one_time.wrong_code_message(5)
    settings.CONFIRMATION_MAX_ATTEMPTS = 3
    settings.CONFIRMATION_CODE_MINUTES = 60
    assert "Zu viele" in one_time.attempt_refusal(attempts=3, sent_at=now, now=now)
    assert one_time.attempt_refusal(attempts=0, sent_at=now, now=late) == ""


def test_resend_pause_and_codes_per_day():
    now = timezone.now()
    today = timezone.localdate(now)
    soon = now + dt.timedelta(seconds=59)
    assert "eine Minute" in one_time.resend_refusal(
        last_sent=now, day=today, sent_on_day=1, now=soon
    )
    later = now + dt.timedelta(seconds=60)
    assert one_time.resend_refusal(last_sent=now, day=today, sent_on_day=4, now=later) == ""
    assert "bereits 5 Codes" in one_time.resend_refusal(
        last_sent=now, day=today, sent_on_day=5, now=later
    )
    # the counter belongs to its day: the next day starts again at one
    tomorrow = now + dt.timedelta(days=1)
    assert one_time.resend_refusal(last_sent=now, day=today, sent_on_day=5, now=tomorrow) == ""
    sending = one_time.count_sending(day=today, sent_on_day=5, now=tomorrow)
    assert sending.count == 1 and sending.day == timezone.localdate(tomorrow)
    assert one_time.count_sending(day=today, sent_on_day=2, now=later).count == 3


# --- both flows -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_access_confirmation_with_a_code_mailed_before_the_update(
    django_capture_on_commit_callbacks,
):
    from kvportal.access import services
    from kvportal.access.models import Confirmation
    from tests.access.helpers import codes_by_email, mvz_world
    from tests.access.helpers import draft as access_draft

    practice, leiter, arzt = mvz_world()
    with django_capture_on_commit_callbacks(execute=True):
        services.submit(actor=None, application=access_draft(practice, leiter, arzt))
    token, code = codes_by_email()["arzt@mvz.example"]
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32
    conf = services.find_confirmation(token)
    # the row as the access app stored it before core.confirmation
    old = hashlib.sha256(f"{conf.pk}:{conf.token_hash}:{code}".encode()).hexdigest()
    Confirmation.objects.filter(pk=conf.pk).update(code_hash=old)
    with pytest.raises(services.CodeMismatch, match="Verbleibende Versuche: 4"):
        services.confirm_with_code(actor=None, confirmation=conf, code="x" + code)
    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_with_code(actor=None, confirmation=conf, code=code)
    assert Confirmation.objects.get(pk=conf.pk).confirmed_at is not None


@pytest.mark.django_db
def test_access_resend_is_limited_per_day(django_capture_on_commit_callbacks, time_machine):
    from django.core.exceptions import ValidationError

    from kvportal.access import services
    from tests.access.helpers import codes_by_email, mvz_world
    from tests.access.helpers import draft as access_draft

    time_machine.move_to(timezone.localtime().replace(hour=8, minute=0), tick=False)
    practice, leiter, arzt = mvz_world()
    with django_capture_on_commit_callbacks(execute=True):
        services.submit(actor=None, application=access_draft(practice, leiter, arzt))
    conf = services.find_confirmation(codes_by_email()["arzt@mvz.example"][0])
    with pytest.raises(ValidationError, match="eine Minute"):
        services.resend_confirmation(actor=None, confirmation=conf)
    for _ in range(4):  # the first mail and four resends
        time_machine.shift(dt.timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            services.resend_confirmation(actor=None, confirmation=conf)
    conf.refresh_from_db()
    assert conf.codes_sent == 5
    time_machine.shift(dt.timedelta(minutes=2))
    with pytest.raises(ValidationError, match="bereits 5 Codes"):
        services.resend_confirmation(actor=None, confirmation=conf)
    # the newest mailed code works (each resend replaced link and code)
    token, code = codes_by_email()["arzt@mvz.example"]
    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_with_code(
            actor=None, confirmation=services.find_confirmation(token), code=code
        )


@pytest.mark.django_db
def test_admission_code_mailed_before_the_update_still_confirms(
    draft,  # noqa: F811
    world,  # noqa: F811
    settings,
):
    from kvportal.admission import services
    from kvportal.admission.models import Signatory

    world.employee_user.person = None
    world.employee_user.save()
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    emp = application.signatories.get(roles=["angestellter"])
    services.send_code(signatory=emp)
    # the row as admission stored it before core.confirmation
    old = hmac.new(settings.SECRET_KEY.encode(), f"{emp.pk}:424242".encode(), hashlib.sha256)
    Signatory.objects.filter(pk=emp.pk).update(code_hash=old.hexdigest())
    with pytest.raises(services.AdmissionError, match="falsch"):
        services.confirm_with_code(signatory=emp, code="424243")
    confirmation = services.confirm_with_code(signatory=emp, code="424242")
    assert confirmation.method == "email_code"


@pytest.mark.django_db
def test_admission_limits_come_from_the_settings(draft, world, settings):  # noqa: F811
    from kvportal.admission import services

    settings.CONFIRMATION_MAX_ATTEMPTS = 2
    assert services.MAX_CODE_ATTEMPTS == 2
    world.employee_user.person = None
    world.employee_user.save()
    application = services.submit(
        actor=world.leiterin, application=draft, token=str(draft.submission_token)
    )
    emp = application.signatories.get(roles=["angestellter"])
    services.send_code(signatory=emp)
    for _ in range(2):
        with pytest.raises(services.AdmissionError, match="falsch"):
            services.confirm_with_code(signatory=emp, code="abc")
    with pytest.raises(services.AdmissionError, match="Zu viele"):
        services.confirm_with_code(signatory=emp, code="abc")
