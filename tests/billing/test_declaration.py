"""Issue 14 defect 2: the Erklärung zur Abrechnung can no longer be given blind. It refers to an
accepted submission (or to the file it arrives with, taking effect only when that file is
accepted, as in 1-Click billing); its page shows the full wording, BSNR, quarter, the LANRs it
covers, a summary of the file and a receipt; other roles see who has to give it; quarters
never billed offer nothing."""

from __future__ import annotations

import pytest
import time_machine

from kvportal.billing import services
from kvportal.billing.models import Declaration, SubmissionState
from kvportal.core.pdf import pdf_structure, pdf_text
from tests.billing.conftest import ON_TIME, Q1, kvdt_file, std_name, upload
from tests.billing.html import main

pytestmark = pytest.mark.django_db
BROKEN = ["486"]  # an error (F): the file is rejected


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(ON_TIME, tick=False) as traveller:
        yield traveller


def url(practice, quarter=Q1) -> str:
    return f"/abrechnung/erklaerung/{practice.bsnr}/{quarter.slug}/"


def codes(exc_info) -> list[str]:
    return [p.code for p in exc_info.value.problems]


# --- the service ------------------------------------------------------------------------------


def test_refused_without_any_file(doctor, practice):
    with pytest.raises(services.Refused) as exc:
        services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert codes(exc) == ["declaration_no_submission"]
    assert "keine angenommene Abrechnung" in exc.value.texts[0]
    assert not Declaration.objects.exists()


def test_refused_with_only_a_rejected_file(doctor, practice, submit_file):
    rejected = submit_file(doctor, practice, kvdt_file(practice.bsnr, inject=BROKEN))
    assert rejected.state == SubmissionState.REJECTED
    with pytest.raises(services.Refused) as exc:
        services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert codes(exc) == ["declaration_no_submission"]


def test_refused_when_the_kv_sent_the_accepted_file_back(doctor, employed, practice, submit_file):
    """A file the KV rejected on review („von der KV zurückgewiesen“: the practice must submit a
    corrected file) is no basis for the declaration: refused with its own message, and neither
    the overview nor „Ihre Aufgaben“ offers it."""
    from kvportal.billing import selectors
    from kvportal.billing.models import KvResult
    from tests.factories import kv_staff

    accepted = submit_file(employed, practice, kvdt_file(practice.bsnr))
    assert accepted.state == SubmissionState.ACCEPTED

    def offered() -> bool:
        rows = [r for item in selectors.overview(doctor, ON_TIME.date()) for r in item.rows]
        return next(r for r in rows if r.quarter == Q1).can_declare

    assert offered()
    staff = kv_staff("Abrechnung", username="kv.abrechnung.review")
    services.set_kv_result(
        actor=staff, submission=accepted, result=KvResult.REJECTED, note="Falsche BSNR im Kopf."
    )
    with pytest.raises(services.Refused) as exc:
        services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert codes(exc) == ["declaration_kv_rejected"]
    assert "von der KV zurückgewiesen" in exc.value.texts[0] and practice.bsnr in exc.value.texts[0]
    assert not Declaration.objects.exists()
    assert not offered()
    # accepting it on review makes it the basis again
    services.set_kv_result(actor=staff, submission=accepted, result=KvResult.ACCEPTED, note="")
    assert offered()
    assert services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)


def test_given_with_the_file_takes_effect_only_when_it_is_accepted(doctor, practice):
    name = std_name(practice.bsnr)
    pending = services.receive_submission(
        actor=doctor, betriebsstaette=practice, quarter=Q1,
        upload=upload(kvdt_file(practice.bsnr), name), filename=name, declare=True,
    )  # fmt: skip
    assert not Declaration.objects.exists()  # still in check: not yet effective
    services.run_check(submission_id=pending.pk)
    declaration = Declaration.objects.get(betriebsstaette=practice, quarter=Q1.slug)
    assert declaration.given_by == doctor
    assert declaration.evidence["with_submission"] == pending.pk


def test_given_with_a_rejected_file_never_takes_effect(doctor, practice):
    name = std_name(practice.bsnr)
    bad = services.receive_submission(
        actor=doctor, betriebsstaette=practice, quarter=Q1,
        upload=upload(kvdt_file(practice.bsnr, inject=BROKEN), name), filename=name,
        declare=True,
    )  # fmt: skip
    services.run_check(submission_id=bad.pk)
    assert not Declaration.objects.exists()


def test_wording_names_bsnr_quarter_and_the_covered_lanrs(doctor, employed, practice, submit_file):
    submit_file(employed, practice, kvdt_file(practice.bsnr))
    declaration = services.give_declaration(actor=doctor, betriebsstaette=practice, quarter=Q1)
    assert practice.bsnr in declaration.text and str(Q1) in declaration.text
    assert doctor.person.lanr in declaration.text and employed.person.lanr in declaration.text
    assert sorted(declaration.evidence["lanrs"]) == sorted(
        [doctor.person.lanr, employed.person.lanr]
    )


# --- the pages --------------------------------------------------------------------------------


def test_overview_offers_the_declaration_only_for_an_accepted_quarter(
    member_client, doctor, practice, submit_file
):
    submit_file(doctor, practice, kvdt_file(practice.bsnr))
    page = main(member_client(doctor).get("/abrechnung/").content)
    assert not page.find_all("input", type="checkbox")  # nothing to tick in the overview
    rows = {r.attrs["data-quarter"]: r for r in page.find_all("tr") if "data-quarter" in r.attrs}
    assert Q1.slug in rows and len(rows) > 1
    q1_links = [a.attrs["href"] for a in rows[Q1.slug].find_all("a")]
    assert url(practice) in q1_links and "Erklärung abgeben" in rows[Q1.slug].text
    for slug, row in rows.items():
        if slug != Q1.slug:  # never billed: no action
            assert "Erklärung abgeben" not in row.text, slug
            assert not any("/erklaerung/" in a.attrs.get("href", "") for a in row.find_all("a"))


def test_declaration_page_shows_everything_and_gives_a_receipt(
    member_client, doctor, employed, practice, submit_file
):
    accepted = submit_file(employed, practice, kvdt_file(practice.bsnr))
    client = member_client(doctor)
    page = main(client.get(url(practice)).content)
    text = page.by_id("declaration-text").text
    assert text.startswith("Erklärung zur Abrechnung: Hiermit erkläre ich")
    assert practice.bsnr in text and str(Q1) in text
    lanrs = page.by_id("declaration-lanrs").text
    assert doctor.person.lanr in lanrs and employed.person.lanr in lanrs
    facts = page.by_id("declaration-facts").text
    assert practice.bsnr in facts and str(Q1) in facts and "ausstehend" in facts
    summary = page.by_id("declaration-summary").text
    assert accepted.original_name in summary and "8" in summary  # 8 Behandlungsfälle
    assert page.by_id("declaration-form") is not None
    # not ticked: refused at the checkbox, nothing saved
    refused = client.post(url(practice), {})
    assert refused.status_code == 400
    body = main(refused.content)
    assert "Häkchen" in body.by_id("declaration-error").text
    assert body.by_id("declaration-confirm").attrs.get("aria-invalid") == "true"
    assert not Declaration.objects.exists()
    response = client.post(url(practice), {"confirm": "1"})
    assert response.status_code == 302 and response["Location"] == url(practice)
    page = main(client.get(url(practice)).content)
    assert "abgegeben" in page.by_id("declaration-state").text
    assert page.by_id("declaration-form") is None
    receipt = client.get(page.by_id("declaration-receipt").attrs["href"])
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    assert pdf_structure(receipt.content)["tagged"]
    pdf = pdf_text(receipt.content)
    for needle in (practice.bsnr, str(Q1), doctor.person.lanr, accepted.original_name):
        assert needle in pdf, needle


@pytest.mark.parametrize("who", ["employed", "staff_member"])
def test_other_roles_see_who_has_to_give_it(who, request, member_client, doctor, practice,
                                            submit_file):  # fmt: skip
    user = request.getfixturevalue(who)
    s = submit_file(user, practice, kvdt_file(practice.bsnr))
    client = member_client(user)
    page = main(client.get(url(practice)).content)
    assert page.by_id("declaration-form") is None
    assert doctor.person.full_name in page.by_id("declarers").text
    detail = main(client.get(f"/abrechnung/einreichung/{s.pk}/").content)
    pending = detail.by_id("declaration-pending").text
    assert "Abzugeben von" in pending and doctor.person.full_name in pending
    client.post(url(practice), {"confirm": "1"})
    assert not Declaration.objects.exists()


def test_page_without_accepted_file_says_what_to_do(member_client, doctor, practice):
    page = main(member_client(doctor).get(url(practice)).content)
    assert page.by_id("declaration-form") is None
    hint = page.by_id("declaration-no-file")
    assert "Was tun?" in hint.text
    links = [a.attrs["href"] for a in hint.find_all("a")]
    assert f"/abrechnung/einreichen/?bsnr={practice.bsnr}&quarter={Q1.slug}" in links


def test_foreign_practice_page_and_receipt_are_404(member_client, outsider, practice):
    client = member_client(outsider)
    assert client.get(url(practice)).status_code == 404
    assert client.get(url(practice) + "bestaetigung.pdf").status_code == 404
    assert client.get(f"/abrechnung/erklaerung/{practice.bsnr}/kaputt/").status_code == 404


def test_receipt_only_once_given(member_client, doctor, practice, submit_file):
    submit_file(doctor, practice, kvdt_file(practice.bsnr))
    assert member_client(doctor).get(url(practice) + "bestaetigung.pdf").status_code == 404


def test_rejected_file_leads_to_the_corrected_upload_not_the_declaration(
    member_client, doctor, practice, submit_file
):
    bad = submit_file(doctor, practice, kvdt_file(practice.bsnr, inject=BROKEN))
    client = member_client(doctor)
    page = main(client.get(f"/abrechnung/einreichung/{bad.pk}/").content)
    primary = [a for a in page.find_all("a") if a.attrs.get("class") == "button"]
    assert primary and primary[0].attrs.get("id") == "correct-upload"
    assert primary[0].text == "Korrigierte Datei hochladen"
    assert "Was tun?" in page.by_id("correct-hint").text
    assert page.by_id("ehba-sign-link") is None and page.by_id("declaration-link") is None
    assert page.by_id("declaration-no-file") is not None
    # the link opens the upload with the same BSNR and quarter chosen
    form = client.get(primary[0].attrs["href"]).context["form"]
    assert form["betriebsstaette"].value() == practice.pk
    assert form["quarter"].value() == Q1.slug


def test_accepted_file_offers_the_declaration_page(member_client, doctor, practice, submit_file):
    good = submit_file(doctor, practice, kvdt_file(practice.bsnr))
    page = main(member_client(doctor).get(f"/abrechnung/einreichung/{good.pk}/").content)
    assert page.by_id("correct-upload") is None
    assert page.by_id("declaration-link").attrs["href"] == url(practice)
