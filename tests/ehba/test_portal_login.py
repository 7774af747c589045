"""Card registration and login with the eHBA: success and every refusal reason."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.cardlib import tokens
from kvportal.cardlib.agent import AgentError, SoftCardBackend, fixed_pin_provider
from kvportal.cardlib.softcard import PinType
from kvportal.ehba import services
from kvportal.ehba.models import CardRegistration, LoginChallenge, RegistrationEnd
from tests.ehba.conftest import PIN_CH
from tests.factories import PersonFactory, UserFactory

AUDIENCE = "http://testserver"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def trust(settings, pki):
    settings.EHBA_TEST_PKI_DIR = str(pki.directory)
    return pki


@pytest.fixture
def doctor():
    person = PersonFactory(first_name="Anna", last_name="Müller", profession="arzt")
    return UserFactory(person=person, first_name="Anna", last_name="Müller")


def get_challenge(client, purpose="login") -> str:
    resp = client.post(reverse("ehba:challenge"), {"purpose": purpose})
    assert resp.status_code == 200, resp.content
    return resp.json()["challenge"]


def answer(card, challenge: str, pin: str = PIN_CH) -> str:
    return tokens.sign_login_challenge(card, pin, challenge, AUDIENCE)


def follow_up(card, pki, **kwargs):
    from tests.ehba.conftest import PUK_CH, PUK_QES, TRANSPORT_CH, TRANSPORT_QES, activate

    new, _ = card.follow_up(
        pki,
        transport_pins={PinType.CH: TRANSPORT_CH, PinType.QES: TRANSPORT_QES},
        puks={PinType.CH: PUK_CH, PinType.QES: PUK_QES},
        **kwargs,
    )
    return activate(new)


def register(client, user, card, *, second_factor=False):
    client.force_login(user)
    challenge = get_challenge(client, "register")
    resp = client.post(
        reverse("ehba:register"),
        {"token": answer(card, challenge), "second_factor": "on" if second_factor else ""},
    )
    client.logout()
    return resp


def card_login(client, card, *, challenge=None, pin=PIN_CH):
    challenge = challenge or get_challenge(client)
    token = answer(card, challenge, pin)
    return client.post(reverse("ehba:login"), {"token": token}), token


def refusals(reason: str):
    return AccessLogEntry.objects.filter(
        activity=Activity.LOGIN_FAILED, detail__method="ehba", detail__reason=reason
    )


def assert_refused(resp, reason: str, fragment: str):
    assert resp.status_code == 400
    assert "_auth_user_id" not in resp.wsgi_request.session
    assert fragment in resp.content.decode()
    assert refusals(reason).count() == 1


# --- registration ------------------------------------------------------------------------------


def test_register_binds_card_to_person_and_audits(client, doctor, card):
    resp = register(client, doctor, card)
    assert resp.status_code == 302
    reg = CardRegistration.objects.get(user=doctor)
    assert reg.person == doctor.person
    assert reg.telematik_id == card.telematik_id == "1-114123456789"
    assert reg.card_serial.endswith(card.card_id)
    assert reg.is_active and not reg.second_factor
    entry = AccessLogEntry.objects.get(activity=Activity.OTP_ENABLED, user=doctor)
    assert entry.detail["telematik_id"] == card.telematik_id
    assert LoginChallenge.objects.get(purpose="register").used_at is not None


def test_register_refuses_card_of_another_person(client, doctor, new_card):
    foreign = new_card(given_name="Bernd", surname="Schulz", telematik_id="1-119999")
    resp = register(client, doctor, foreign)
    assert resp.status_code == 400
    assert "passt nicht zu Ihrem Eintrag" in resp.content.decode()
    assert not CardRegistration.objects.exists()


def test_register_refuses_revoked_card(client, doctor, card, pki):
    card.revoke(pki)
    card.enforce_validity = False  # a real card still signs; the portal must refuse
    resp = register(client, doctor, card)
    assert resp.status_code == 400
    assert "gesperrt" in resp.content.decode()
    assert not CardRegistration.objects.exists()


def test_register_needs_member_with_registry_person(client, card):
    clerk = UserFactory(person=None)
    client.force_login(clerk)
    resp = client.get(reverse("ehba:register"))
    assert "Nur Ärztinnen/Ärzte" in resp.content.decode()
    resp = client.post(reverse("ehba:challenge"), {"purpose": "register"})
    # the challenge itself is harmless, the registration is refused
    resp = client.post(reverse("ehba:register"), {"token": answer(card, resp.json()["challenge"])})
    assert resp.status_code == 403


def test_registration_challenge_needs_password_login(client):
    resp = client.post(reverse("ehba:challenge"), {"purpose": "register"})
    assert resp.status_code == 403
    assert not LoginChallenge.objects.exists()


# --- login success -------------------------------------------------------------------------------


def test_login_with_card_alone(client, doctor, card):
    register(client, doctor, card)
    resp, _ = card_login(client, card)
    assert resp.status_code == 302
    session = resp.wsgi_request.session
    assert session["_auth_user_id"] == str(doctor.pk)
    reg = CardRegistration.objects.get(user=doctor)
    assert session[DEVICE_ID_SESSION_KEY] == reg.persistent_id  # counts as verified (card + PIN)
    assert AccessLogEntry.objects.filter(activity=Activity.LOGIN, user=doctor).exists()
    reg.refresh_from_db()
    assert reg.last_login_at is not None
    page = client.get(reverse("ehba:register"))  # past the security gate
    assert page.status_code == 200


def test_login_redirects_to_safe_next_only(client, doctor, card):
    register(client, doctor, card)
    challenge = get_challenge(client)
    resp = client.post(
        reverse("ehba:login"), {"token": answer(card, challenge), "next": "https://evil.test/"}
    )
    assert resp.status_code == 302
    assert resp["Location"] == reverse("core:home")


def test_replacement_card_with_same_telematik_id_works_without_new_registration(
    client, doctor, card, pki
):
    register(client, doctor, card)
    replacement = follow_up(card, pki)  # keeps the Telematik-ID
    resp, _ = card_login(client, replacement)
    assert resp.status_code == 302
    assert CardRegistration.objects.get(user=doctor).card_serial.endswith(replacement.card_id)


# --- refusals -------------------------------------------------------------------------------------


def test_unknown_card_is_refused(client, doctor, card):
    resp, _ = card_login(client, card)
    assert_refused(resp, "unknown_card", "nicht registriert")


def test_card_of_foreign_ca_is_refused(client, doctor, new_card, foreign_pki):
    register_card = new_card()
    register(client, doctor, register_card)
    foreign = new_card(pki_=foreign_pki)  # same person and Telematik-ID, wrong CA
    resp, _ = card_login(client, foreign)
    assert_refused(resp, "wrong_ca", "nicht von einer vom Portal anerkannten")


def test_expired_card_is_refused(client, doctor, new_card):
    now = dt.datetime.now(dt.UTC)
    old = new_card(not_before=now - dt.timedelta(days=1900), not_after=now - dt.timedelta(days=1))
    old.enforce_validity = False
    CardRegistration.objects.create(
        user=doctor,
        person=doctor.person,
        name="eHBA",
        telematik_id=old.telematik_id,
        profession="arzt",
        holder_name="Anna Müller",
        certificate_fingerprint="x",
    )
    resp, _ = card_login(client, old)
    assert_refused(resp, "expired", "abgelaufen")


def test_revoked_card_is_refused_even_though_registered(client, doctor, card, pki):
    register(client, doctor, card)
    card.revoke(pki)
    card.enforce_validity = False
    resp, _ = card_login(client, card)
    assert_refused(resp, "revoked", "gesperrt")
    entry = refusals("revoked").get()
    assert entry.user == doctor  # the log names whose card it was
    assert entry.detail["telematik_id"] == card.telematik_id


def test_blocked_pin_reported_by_agent_is_refused_and_logged(client, doctor, card):
    register(client, doctor, card)
    backend = SoftCardBackend(card.card_id, directory=card.path.parent.parent)
    for _ in range(3):
        with pytest.raises(AgentError):
            backend.login_token("x", audience=AUDIENCE, pin_provider=fixed_pin_provider("999999"))
    with pytest.raises(AgentError) as blocked:
        backend.login_token("x", audience=AUDIENCE, pin_provider=fixed_pin_provider(PIN_CH))
    assert blocked.value.code == "pin_blocked"
    get_challenge(client)
    resp = client.post(reverse("ehba:login"), {"agent_error": blocked.value.code})
    assert_refused(resp, "pin_blocked", "PUK")
    assert not LoginChallenge.objects.filter(used_at__isnull=True).exists()


def test_replayed_token_is_refused(client, doctor, card):
    register(client, doctor, card)
    resp, token = card_login(client, card)
    assert resp.status_code == 302
    client.logout()
    get_challenge(client)  # a fresh login attempt in the same browser
    resp = client.post(reverse("ehba:login"), {"token": token})
    assert_refused(resp, "replayed_challenge", "bereits verwendet")


def test_expired_challenge_is_refused(client, doctor, card):
    register(client, doctor, card)
    challenge = get_challenge(client)
    token = answer(card, challenge)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=150)):
        resp = client.post(reverse("ehba:login"), {"token": token})
    assert_refused(resp, "expired_challenge", "abgelaufen (gültig 120 Sekunden)")


def test_signature_over_something_else_is_refused(client, doctor, card):
    register(client, doctor, card)
    get_challenge(client)
    resp, _ = card_login(client, card, challenge="Ich bin eine andere Nachricht")
    assert_refused(resp, "wrong_challenge", "Signatur über etwas anderes")
    # the pending challenge of the session was consumed by the failed attempt
    assert not LoginChallenge.objects.filter(used_at__isnull=True).exists()


def test_challenge_of_another_browser_session_is_refused(client, doctor, card):
    from django.test import Client

    register(client, doctor, card)
    other = Client()
    foreign_challenge = get_challenge(other)
    get_challenge(client)
    resp, _ = card_login(client, card, challenge=foreign_challenge)
    assert_refused(resp, "wrong_challenge", "anderen Browsersitzung")


def test_token_for_another_portal_is_refused(client, doctor, card):
    register(client, doctor, card)
    challenge = get_challenge(client)
    token = tokens.sign_login_challenge(card, PIN_CH, challenge, "https://phishing.example")
    resp = client.post(reverse("ehba:login"), {"token": token})
    assert_refused(resp, "wrong_challenge", "Signatur über etwas anderes")


def test_tampered_token_is_refused(client, doctor, card):
    register(client, doctor, card)
    challenge = get_challenge(client)
    token = answer(card, challenge)
    head, payload, sig = token.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA"
    resp = client.post(reverse("ehba:login"), {"token": forged})
    assert_refused(resp, "bad_signature", "ungültig")


def test_garbage_token_is_refused(client):
    get_challenge(client)
    resp = client.post(reverse("ehba:login"), {"token": "kein.token"})
    assert_refused(resp, "malformed", "beschädigt")


def test_empty_answer_shows_form_error_without_log(client):
    resp = client.post(reverse("ehba:login"), {})
    assert resp.status_code == 200
    assert "keine Antwort der Karte" in resp.content.decode()
    assert not AccessLogEntry.objects.filter(activity=Activity.LOGIN_FAILED).exists()


def test_too_many_open_challenges_are_refused(client):
    for _ in range(10):
        get_challenge(client)
    resp = client.post(reverse("ehba:challenge"), {"purpose": "login"})
    assert resp.status_code == 429


# --- follow-up card / revoked card / removal -----------------------------------------------------


def test_follow_up_card_with_new_telematik_id_after_re_registration(client, doctor, card, pki):
    register(client, doctor, card)
    follow = follow_up(card, pki, telematik_id="1-114000000002")
    resp, _ = card_login(client, follow)
    assert_refused(resp, "unknown_card", "Folgekarte erneut zu registrieren")

    resp = register(client, doctor, follow)
    assert resp.status_code == 302
    regs = CardRegistration.objects.filter(user=doctor).order_by("registered_at")
    assert [r.end_reason for r in regs] == [RegistrationEnd.SUPERSEDED, ""]
    assert regs[1].person == regs[0].person == doctor.person

    resp, _ = card_login(client, follow)
    assert resp.status_code == 302
    client.logout()

    card.revoke(pki)  # the old card is revoked when the follow-up is in use
    card.enforce_validity = False
    resp, _ = card_login(client, card)
    assert resp.status_code == 400
    assert refusals("revoked").exists() or refusals("unknown_card").count() == 2


def test_old_card_no_longer_logs_in_after_follow_up_registration(client, doctor, card, pki):
    register(client, doctor, card)
    follow = follow_up(card, pki, telematik_id="1-114000000003")
    register(client, doctor, follow)
    resp, _ = card_login(client, card)  # not revoked, but its Telematik-ID is superseded
    assert_refused(resp, "unknown_card", "nicht registriert")


def test_removed_registration_refuses_login(client, doctor, card):
    register(client, doctor, card)
    reg = CardRegistration.objects.get(user=doctor)
    client.force_login(doctor)
    resp = client.post(reverse("ehba:registration_remove", args=[reg.pk]))
    assert resp.status_code == 302
    client.logout()
    reg.refresh_from_db()
    assert reg.end_reason == RegistrationEnd.REMOVED and not reg.confirmed
    resp, _ = card_login(client, card)
    assert_refused(resp, "unknown_card", "nicht registriert")


# --- second factor --------------------------------------------------------------------------------


def test_second_factor_marks_password_session_verified(client, doctor, card):
    register(client, doctor, card)
    client.force_login(doctor)
    challenge = get_challenge(client, "second_factor")
    resp = client.post(reverse("ehba:second_factor"), {"token": answer(card, challenge)})
    assert resp.status_code == 302
    reg = CardRegistration.objects.get(user=doctor)
    assert client.session[DEVICE_ID_SESSION_KEY] == reg.persistent_id


def test_second_factor_with_card_of_another_account_is_refused(client, doctor, card, new_card):
    register(client, doctor, card)
    person = PersonFactory(first_name="Bernd", last_name="Schulz", profession="arzt")
    other = UserFactory(person=person)
    other_card = new_card(given_name="Bernd", surname="Schulz", telematik_id="1-117777")
    register(client, other, other_card)
    client.force_login(doctor)
    challenge = get_challenge(client, "second_factor")
    resp = client.post(reverse("ehba:second_factor"), {"token": answer(other_card, challenge)})
    assert resp.status_code == 400
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert AccessLogEntry.objects.filter(
        activity=Activity.OTP_FAILED, detail__reason="other_account"
    ).exists()


def test_second_factor_flag_makes_registration_a_required_device(doctor, card, client):
    from django_otp import user_has_device

    register(client, doctor, card)
    assert not user_has_device(doctor)
    register(client, doctor, card, second_factor=True)
    assert user_has_device(doctor)


def test_pin_wrong_at_agent_is_refused(client, doctor, card):
    register(client, doctor, card)
    backend = SoftCardBackend(card.card_id, directory=card.path.parent.parent)
    with pytest.raises(AgentError) as wrong:
        backend.login_token("x", audience=AUDIENCE, pin_provider=fixed_pin_provider("999999"))
    assert wrong.value.code == "pin_wrong" and wrong.value.extra["tries_left"] == 2
    get_challenge(client)
    resp = client.post(reverse("ehba:login"), {"agent_error": "pin_wrong"})
    assert_refused(resp, "pin_wrong", "PIN war falsch")
    assert card.status().pins[PinType.CH].remaining_tries == 2


def test_purge_removes_old_challenges(client):
    get_challenge(client)
    now = dt.datetime.now(dt.UTC)
    assert services.purge_challenges(now=now, dry_run=False).count == 0
    result = services.purge_challenges(now=now + dt.timedelta(days=2), dry_run=True)
    assert result.count == 1 and LoginChallenge.objects.count() == 1
    services.purge_challenges(now=now + dt.timedelta(days=2))
    assert not LoginChallenge.objects.exists()


def test_revocation_by_real_ocsp_round_trip(client, doctor, card, pki, settings):
    from kvportal.cardlib.ocsp_server import OcspServer

    register(client, doctor, card)
    with OcspServer(pki, port=0) as responder:
        settings.EHBA_REVOCATION = "ocsp"
        settings.EHBA_OCSP_URL = responder.url
        resp, _ = card_login(client, card)
        assert resp.status_code == 302
        client.logout()
        card.revoke(pki)
        card.enforce_validity = False
        resp, _ = card_login(client, card)
    assert_refused(resp, "revoked", "gesperrt")


def test_unreachable_ocsp_responder_refuses_login(client, doctor, card, settings):
    register(client, doctor, card)
    settings.EHBA_REVOCATION = "ocsp"
    settings.EHBA_OCSP_URL = "http://127.0.0.1:9/ocsp"  # discard port: nobody answers
    resp, _ = card_login(client, card)
    assert_refused(resp, "revocation_unknown", "Sperrstatus")


def test_staff_registry_sees_registrations_members_do_not(client, doctor, card, staff_client):
    register(client, doctor, card)
    client.force_login(doctor)
    assert client.get(reverse("ehba:staff_registrations")).status_code == 404
    staff, _user = staff_client("Arztregister")
    page = staff.get(reverse("ehba:staff_registrations"))
    assert page.status_code == 200
    assert card.telematik_id in page.content.decode()


def test_missing_trust_anchors_refuse_with_message(client, doctor, card, settings, tmp_path):
    register(client, doctor, card)
    settings.EHBA_TEST_PKI_DIR = str(tmp_path / "fehlt")
    resp, _ = card_login(client, card)
    assert_refused(resp, "not_configured", "nicht eingerichtet")
