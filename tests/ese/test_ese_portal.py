"""The eSE produced by the portal (issue 16): XML for the configured KV profile, valid against
the published body schema, for the accepted submission only and only by a signature-entitled
doctor; its PDF/A rendering is the eHBA signable; the XML download is scoped and logged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kvportal.accounts.constants import Right
from kvportal.audit.models import AccessLogEntry
from kvportal.billing.models import Declaration
from kvportal.core.pdf import pdf_structure
from kvportal.ehba import services as ehba
from kvportal.members.constants import Role
from kvportal.oneclick import ese, ese_services
from kvportal.oneclick.models import Sammelerklaerung
from tests.ese.conftest import accepted_submission
from tests.factories import BetriebsstaetteFactory, doctor_account


@pytest.mark.parametrize("profile", ["01", "38"])
def test_ese_for_the_accepted_submission(
    world, settings, django_capture_on_commit_callbacks, profile
):
    settings.ONECLICK_ESE_PROFILE = profile
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    obj = ese_services.create(actor=world["doctor"], submission=sub)
    doc = ese.parse(ese_services.read_xml(obj))
    person = world["doctor"].person
    assert doc.profile.kv_number == profile and obj.profile == profile
    assert (doc.lanr, doc.bsnr, doc.quarter) == (
        person.lanr,
        sub.betriebsstaette.bsnr,
        sub.quarter_obj,
    )
    from kvportal.billing import services as billing

    assert doc.declaration_texts == (
        billing.declaration_text(sub.betriebsstaette, sub.quarter_obj),
    )
    assert obj.filename == ese.filename(doc)
    # asking again gives the same open eSE
    assert ese_services.create(actor=world["doctor"], submission=sub) == obj


def test_pdf_rendering_is_tagged_pdfa_and_names_the_xml_hash(
    world, django_capture_on_commit_callbacks
):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    obj = ese_services.create(actor=world["doctor"], submission=sub)
    pdf = ese_services.render_pdf(obj)
    structure = pdf_structure(pdf)
    assert structure["tagged"] and structure["lang"] == "de" and structure["pdfa"] == "3a"
    assert obj.filename in structure["title"]
    assert obj.xml_sha256.encode() in pdf or obj.xml_sha256[:16] in _pdf_text(pdf)


def test_signable_is_registered_with_the_entitled_doctors(
    world, django_capture_on_commit_callbacks
):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    obj = ese_services.create(actor=world["doctor"], submission=sub)
    signable = ehba.signable_for(ese_services.LABEL)
    assert signable is not None and signable.is_open(obj)
    (spec,) = signable.documents(obj)
    assert spec.render().startswith(b"%PDF")
    required = signable.required_signers(obj)
    assert isinstance(required, ehba.AnyOf) and len(required) == 1
    assert list(signable.queryset_for(world["doctor"])) == [obj]


def _pdf_text(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


class _Checks(list):
    def filter(self, **kw):
        return [c for c in self if all(getattr(c, k) == v for k, v in kw.items())]


class _Check:
    def __init__(self, name, verdict="valid"):
        self.signer_name, self.verdict = name, verdict
        self.certificate_fingerprint, self.telematik_id = "ab" * 32, "1-1-ARZT-ESE-TEST"


class _Report:
    pk = 4711

    def __init__(self, *checks):
        self.signatures = _Checks(checks)


def test_valid_qes_of_the_declarer_gives_the_declaration(world, django_capture_on_commit_callbacks):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    obj = ese_services.create(actor=world["doctor"], submission=sub)
    person = world["doctor"].person
    signable = ehba.signable_for(ese_services.LABEL)
    signable.on_accepted(
        actor=world["doctor"], application=obj, report=_Report(_Check("Fremd, Jemand", "invalid"))
    )
    assert not Declaration.objects.exists()
    signable.on_accepted(
        actor=world["doctor"],
        application=obj,
        report=_Report(_Check(f"{person.last_name}, {person.first_name}")),
    )
    declaration = Declaration.objects.get()
    assert declaration.method == "qes" and declaration.evidence["ese_sha256"] == obj.xml_sha256
    obj.refresh_from_db()
    assert obj.declaration == declaration and not signable.is_open(obj)


def test_not_entitled_and_not_accepted_are_refused(world, django_capture_on_commit_callbacks):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    staff = doctor_account(world["practice"], Role.ANGESTELLT, Right.BILLING)
    with pytest.raises(ese_services.EseRefused) as exc:
        ese_services.create(actor=staff, submission=sub)
    assert "unterschriftsberechtigte" in exc.value.texts[0]
    sub.is_current = False
    sub.save(update_fields=["is_current"])
    with pytest.raises(ese_services.EseRefused) as exc:
        ese_services.create(actor=world["doctor"], submission=sub)
    assert "angenommene Abrechnung" in exc.value.texts[0]
    assert not Sammelerklaerung.objects.exists()


def test_create_view_redirects_to_signing_and_xml_download_is_logged(
    world, client, django_capture_on_commit_callbacks
):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    client.force_login(world["doctor"])
    page = client.get(reverse("billing:detail", args=[sub.pk]))
    assert reverse("oneclick:ese_create", args=[sub.pk]) in page.content.decode()
    response = client.post(reverse("oneclick:ese_create", args=[sub.pk]))
    obj = Sammelerklaerung.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("ehba:sign", args=[ese_services.LABEL, obj.pk])
    xml = client.get(reverse("oneclick:ese_xml", args=[obj.pk]))
    assert xml.status_code == 200 and ese.parse(xml.content).bsnr == sub.betriebsstaette.bsnr
    assert obj.filename in xml["Content-Disposition"]
    assert AccessLogEntry.objects.filter(detail__event="oneclick.ese_xml").count() == 1


def test_foreign_ese_xml_is_404(world, client, django_capture_on_commit_callbacks):
    sub = accepted_submission(world, django_capture_on_commit_callbacks)
    obj = ese_services.create(actor=world["doctor"], submission=sub)
    other = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    client.force_login(other)
    assert client.get(reverse("oneclick:ese_xml", args=[obj.pk])).status_code == 404
    assert client.post(reverse("oneclick:ese_create", args=[sub.pk])).status_code == 404
