"""Journeys (issue 14): KV staff confirm destructive decisions with a reason — the billing
department rejects a submission („Prüfung durch die KV: zurückgewiesen“), the Arztregister
terminates a KIM account („Kündigen“). Empty reason: German error at the field; axe 0
violations at 1280 and 390 px on the step."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kvportal.accounts.constants import Right
from kvportal.billing import services as billing
from kvportal.core.quarters import Quarter
from kvportal.kim.models import AccountState
from kvportal.kvdt import generate
from kvportal.members.constants import Role
from tests.billing.conftest import upload
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.factories import PASSWORD, BetriebsstaetteFactory, doctor_account, kv_staff
from tests.kim.test_portal_support import practice_account

pytestmark = pytest.mark.browser


def _staff_login(page, role: str, username: str):
    Group.objects.get_or_create(name=role)
    staff = kv_staff(role, username=username)
    device = TOTPDevice.objects.create(user=staff, name="Test", confirmed=True)
    login(page, staff.username, PASSWORD)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0)
    page.get_by_label("Sicherheitscode aus Ihrer Authenticator-App").fill(f"{code:06d}")
    page.get_by_role("button", name="Bestätigen").click()
    return staff


def _empty_reason_then_confirm(page, reason: str) -> None:
    assert page.locator("#confirm-step").is_visible()
    page.locator("#id_reason").fill("")
    page.locator("#confirm-submit").click()  # no reason: German error at the field
    assert "Bitte geben Sie eine Begründung an." in page.locator("#id_reason_error").inner_text()
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    page.locator("#id_reason").fill(reason)
    page.locator("#id_confirmed").check()
    page.locator("#confirm-submit").click()


def test_billing_staff_rejects_a_submission_with_a_reason(page):
    practice = BetriebsstaetteFactory()
    doctor = doctor_account(practice, Role.ANGESTELLT, Right.BILLING)
    quarter = Quarter.of(timezone.localdate()).previous()
    name = f"Z01{practice.bsnr}_05.01.2026_10.00.con"
    submission = billing.receive_submission(
        actor=doctor,
        betriebsstaette=practice,
        quarter=quarter,
        upload=upload(generate(5, seed=3, quarter=quarter, bsnr=practice.bsnr), name),
        filename=name,
    )
    _staff_login(page, "Abrechnung", "kv.abrechnung.test")
    page.goto(f"/abrechnung/kv/einreichung/{submission.pk}/")
    page.get_by_label("Ergebnis der Prüfung durch die KV").select_option("rejected")
    page.get_by_label("Vermerk").fill("Falsche BSNR")
    page.locator("#kv-h ~ form button[type=submit]").click()
    assert page.locator("#id_reason").input_value() == "Falsche BSNR"  # carried into the step
    assert_accessible(page)
    _empty_reason_then_confirm(page, "Falsche BSNR im Kopfsatz.")
    assert "Die Einreichung ist von der KV zurückgewiesen." in page.content()
    assert "von der KV zurückgewiesen – Falsche BSNR im Kopfsatz." in (
        page.locator("#kv-result").inner_text()
    )


def test_arztregister_terminates_a_kim_account_with_a_reason(page):
    practice = BetriebsstaetteFactory(name="Praxis Müller")
    doctor = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    Group.objects.get_or_create(name="Arztregister")
    helper = kv_staff("Arztregister", username="kv.arztregister.setup")
    account, _password = practice_account(doctor, practice, helper)
    _staff_login(page, "Arztregister", "kv.arztregister.test")
    page.goto("/kim/kv/konten/?status=registered")
    page.locator(f"#deregister-{account.pk}").click()
    assert_accessible(page)
    _empty_reason_then_confirm(page, "Praxis aufgegeben.")
    assert "Das Konto ist gekündigt" in page.content()
    account.refresh_from_db()
    assert account.state == AccountState.DEREGISTERING
