"""Journey: KV staff (Abrechnung) imports a quarter; an employed doctor sees only his own
documents, the Träger of the MVZ sees all of them."""

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kvportal.accounts.constants import Right
from kvportal.documents.pdfgen import minimal_pdf
from kvportal.members.constants import Role
from tests.browser.axe import assert_accessible, assert_no_horizontal_scroll
from tests.browser.conftest import login
from tests.factories import (
    PASSWORD,
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    doctor_account,
    grant,
    kv_staff,
)

pytestmark = pytest.mark.browser


def test_staff_import_then_doctor_sees_own_and_traeger_sees_all(page, tmp_path):
    mvz = BetriebsstaetteFactory(mvz=True)
    gf = PersonFactory(lanr=None, title="", first_name="Thomas", last_name="Träger")
    TaetigkeitFactory(person=gf, betriebsstaette=mvz, role=Role.TRAEGER)
    traeger = UserFactory(person=gf)
    grant(traeger, mvz, Right.DOCS_BSNR)
    doc_a = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    doc_b = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    Group.objects.get_or_create(name="Abrechnung")
    staff = kv_staff("Abrechnung", username="kv.abrechnung.test")
    device = TOTPDevice.objects.create(user=staff, name="Test", confirmed=True)

    files = {
        "hb.pdf": minimal_pdf(["Honorarbescheid"]),
        "a.pdf": minimal_pdf(["Richtigstellung A"]),
        "b.pdf": minimal_pdf(["Richtigstellung B"]),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "manifest.csv").write_text(
        "Datei;BSNR;LANR;Quartal;Typ;Titel;Betrag\n"
        f"hb.pdf;{mvz.bsnr};;12026;Honorarbescheid;Honorarbescheid 1/2026;48.250,00\n"
        f"a.pdf;{mvz.bsnr};{doc_a.person.lanr};12026;Richtigstellung;Richtigstellung Arzt A;\n"
        f"b.pdf;{mvz.bsnr};{doc_b.person.lanr};12026;Richtigstellung;Richtigstellung Arzt B;\n"
        f"fehlt.pdf;{mvz.bsnr};;12026;Sonstiges;Fehlende Datei;\n",
        encoding="utf-8",
    )

    # staff: password, TOTP, import page
    login(page, staff.username, PASSWORD)
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=0)
    page.get_by_label("Sicherheitscode aus Ihrer Authenticator-App").fill(f"{code:06d}")
    page.get_by_role("button", name="Bestätigen").click()
    page.goto("/dokumente/kv/import/")
    page.get_by_label("Manifest (CSV oder JSON)").set_input_files(str(tmp_path / "manifest.csv"))
    page.get_by_label("PDF-Dateien").set_input_files([str(tmp_path / n) for n in files])
    page.get_by_role("button", name="Importieren").click()
    assert (
        "3 Dokument(e) angelegt, 0 bereits vorhanden."
        in page.locator("#import-summary").inner_text()
    )
    assert "Zeile 5, Feld „Datei“" in page.locator("#import-errors").inner_text()
    assert_accessible(page)
    page.locator("#logout-button").click()

    # employed doctor A: only his own document
    login(page, doc_a.username, PASSWORD)
    page.goto("/dokumente/")
    rows = page.locator("#documents tbody tr")
    assert rows.count() == 1
    assert "Richtigstellung Arzt A" in rows.first.inner_text()
    assert "neu" in rows.first.inner_text()
    assert "1 Dokument" in page.locator("#document-count").inner_text()
    assert_accessible(page)
    assert_no_horizontal_scroll(page)  # one card per document on a phone
    with page.expect_download() as info:
        rows.first.get_by_role("link", name="PDF herunterladen").click()
    assert info.value.suggested_filename.endswith(".pdf")
    page.reload()
    assert "gelesen" in page.locator("#documents tbody tr").first.inner_text()
    page.locator("#logout-button").click()

    # Träger: all three, and sees that doctor A opened his document
    login(page, traeger.username, PASSWORD)
    page.goto("/dokumente/")
    titles = page.locator("#documents tbody tr").all_inner_texts()
    assert len(titles) == 3
    assert any("Arzt B" in t for t in titles) and any("Honorarbescheid" in t for t in titles)
    page.get_by_role("link", name="Richtigstellung Arzt A", exact=True).click()
    assert doc_a.person.last_name in page.locator("#receipts").inner_text()
    assert_accessible(page)
    page.goto("/")
    assert page.locator(f"#honorar-chart-{mvz.bsnr} svg").count() == 1
