"""Journey: an MVZ applies to raise an employee's factor from 0.5 to 0.75, both signatories
confirm, the Geschäftsstelle requests and books the fee, schedules and decides; the
applicant downloads the Beschluss."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from kvportal.accounts.constants import Right
from kvportal.admission.models import Application, CommitteeSession
from kvportal.admission.rules.dates import first_of_month_on_or_after
from kvportal.core.pdf import pdf_text
from kvportal.members.constants import Role
from kvportal.members.models import Taetigkeit
from tests.admission.conftest import pdf_bytes
from tests.browser.axe import assert_accessible
from tests.browser.conftest import login
from tests.factories import (
    PASSWORD,
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    doctor_account,
    kv_staff,
)

pytestmark = pytest.mark.browser


def logout(page):
    page.locator("#logout-button").click()


def reveal(page, selector: str) -> None:
    """Go to the step (section) of the stepped form that holds `selector`."""
    section = page.evaluate(
        "s => document.querySelector(s).closest('fieldset.section').id", selector
    )
    page.locator(f"[data-step-target='{section}']").click()


def test_mvz_raises_factor_and_downloads_beschluss(page, tmp_path):
    today = timezone.localdate()
    mvz = BetriebsstaetteFactory(mvz=True, bsnr="951234500", email="info@mvz.example")
    leiterin = doctor_account(mvz, Role.AERZTLICHER_LEITER, Right.DOCS_BSNR, Right.BILLING)
    employee = PersonFactory(first_name="Erika", last_name="Beispiel", email="erika@example.org")
    TaetigkeitFactory(
        person=employee, betriebsstaette=mvz, role=Role.ANGESTELLT,
        anrechnungsfaktor=Decimal("0.5"), weekly_hours=Decimal("18"),
    )  # fmt: skip
    employee_user = UserFactory(person=employee, email="erika@example.org")
    session = CommitteeSession.objects.create(
        bezirk="dresden", committee="aerzte", date=today + dt.timedelta(weeks=8)
    )
    effective = first_of_month_on_or_after(session.date)
    Group.objects.get_or_create(name="Zulassung")
    staff = kv_staff("Zulassung", username="kv.zulassung.test")
    device = TOTPDevice.objects.create(user=staff, name="Test", confirmed=True)
    contract = tmp_path / "arbeitsvertrag.pdf"
    contract.write_bytes(pdf_bytes("Arbeitsvertrag"))

    # the Ärztliche Leiterin starts an application; registry data is prefilled
    login(page, leiterin.username, PASSWORD)
    page.goto("/zulassung/")
    page.locator("#new-application").click()
    page.get_by_label(
        "Antrag auf Erhöhung des Anrechnungsfaktors eines angestellten Arztes"
    ).check()
    page.get_by_label("Angestellte(r) – Betriebsstätte").select_option(f"{mvz.pk}:{employee.pk}")
    page.get_by_role("button", name="Entwurf anlegen").click()
    assert_accessible(page)
    # a stepped form: one section at a time with its progress
    expect(page.locator("#step-progress")).to_contain_text(re.compile(r"Schritt 1 von \d+"))
    assert page.locator("fieldset.section:visible").count() == 1
    page.locator("#step-next").click()
    expect(page.locator("#step-progress")).to_contain_text("Schritt 2 von")
    assert page.locator("fieldset.section:visible").count() == 1
    assert page.locator("#id_bsnr").input_value() == "951234500"
    assert page.locator("#id_employee_lanr").input_value() == employee.lanr
    assert page.locator("#id_factor_from_1").is_checked()  # 0,5 from the registry
    # first try with hours that do not fit: German error at the field
    reveal(page, "#id_factor_to_1")
    page.locator("#id_factor_to_1").check()  # 0,75
    reveal(page, "#id_hours")
    page.locator("#id_hours").fill("35")
    reveal(page, "#id_effective_date")
    page.locator("#id_effective_date").fill(effective.isoformat())
    reveal(page, "#id_mode_0")
    page.locator("#id_mode_0").check()  # Nachbesetzung
    reveal(page, "#id_nachbesetzung_name")
    page.locator("#id_nachbesetzung_name").fill("Dr. Hans Vorgänger")
    reveal(page, "#id_phone")
    page.locator("#id_phone").fill("0351 123456")
    page.locator("#to-review").click()
    assert (
        "entsprechen dem Faktor 1,0, nicht 0,75" in page.locator("#section-erhoehung").inner_text()
    )
    assert "Arbeitsvertrag" in page.locator("#section-unterlagen").inner_text()
    assert_accessible(page)
    reveal(page, "#id_hours")
    page.locator("#id_hours").fill("25")
    reveal(page, "#att_arbeitsvertrag")
    page.locator("#att_arbeitsvertrag").set_input_files(str(contract))
    page.locator("#to-review").click()

    # review page: computed values, fee, signatories; then submit
    assert "25,0 h" in page.locator("#review-hours").inner_text()
    assert "Antragsgebühr 60,00 €" in page.locator("#fees").inner_text()
    assert "Erika Beispiel" in page.locator("#signatories").inner_text()
    assert_accessible(page)
    page.locator("#consent").check()
    page.locator("#submit-application").click()
    assert "Bestätigungen ausstehend" in page.locator("#state").inner_text()
    logout(page)

    # the employee confirms with her own login
    login(page, employee_user.username, PASSWORD)
    page.goto("/zulassung/")
    page.get_by_role("link", name="Erhöhung Anrechnungsfaktor (Arzt)").first.click()
    page.locator("input[name=consent]").check()
    page.locator("#confirm-button").click()
    assert "Eingegangen" in page.locator("#state").inner_text()
    logout(page)
    application = Application.objects.get()

    # the Geschäftsstelle: fee request, payment, session, decision
    login(page, staff.username, PASSWORD)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0)
    page.get_by_label("Sicherheitscode aus Ihrer Authenticator-App").fill(f"{code:06d}")
    page.get_by_role("button", name="Bestätigen").click()
    page.goto("/zulassung/kv/?bezirk=dresden")
    page.get_by_role("link", name=application.reference).click()
    assert "Alle Angaben und Regeln erfüllt." in page.locator("#completeness").inner_text()
    assert_accessible(page)
    deadline = today + dt.timedelta(weeks=3)
    page.locator("#action-gebuehr input[name=deadline]").fill(deadline.isoformat())
    page.locator("#action-gebuehr button").click()
    assert "Gebühr angefordert" in page.locator("#state").inner_text()
    page.locator("#action-zahlung input[name=reference]").fill("K-2026-17")
    page.locator("#action-zahlung button").click()
    assert "Gebühr bezahlt" in page.locator("#state").inner_text()
    page.locator("#action-terminieren select[name=session]").select_option(str(session.pk))
    page.locator("#action-terminieren button").click()
    assert "Terminiert" in page.locator("#state").inner_text()
    assert_accessible(page)
    # a rejection is a second step with its reasons (issue 14); cancelled here
    page.locator("#reject").click()
    assert page.locator("#confirm-step").is_visible()
    page.locator("#confirm-submit").click()  # no reason: German error at the field
    assert "Bitte geben Sie eine Begründung an." in page.locator("#id_reason_error").inner_text()
    assert_accessible(page)
    page.locator("#confirm-cancel").click()
    assert "Terminiert" in page.locator("#state").inner_text()
    page.locator("#action-beschluss input[value=genehmigt]").check()
    page.locator("#action-beschluss button").click()
    assert "genehmigt" in page.locator("#state").inner_text()
    logout(page)

    # the registry counts the employee with 0.75 from the effective date
    rows = Taetigkeit.objects.filter(person=employee).order_by("valid_from")
    assert rows.last().anrechnungsfaktor == Decimal("0.75")
    assert rows.last().valid_from == effective

    # the applicant downloads the Beschluss
    login(page, leiterin.username, PASSWORD)
    page.goto(f"/zulassung/{application.pk}/")
    assert_accessible(page)
    with page.expect_download() as info:
        page.locator("#documents").get_by_role("link", name="Beschluss (PDF)").click()
    text = " ".join(pdf_text(Path(info.value.path()).read_bytes()).split())
    assert "Beschluss" in text and "0,5 auf 0,75 erhöht" in text
    assert effective.strftime("%d.%m.%Y") in text
