"""Issue 13, one policy for every read: the inverse query of the document right agrees with the
scope layer, and the staff read "staff never see drafts" holds in both application apps."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, Right
from kvportal.members.constants import Role
from tests.factories import (
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    doctor_account,
    grant,
)

pytestmark = pytest.mark.django_db


def _documents(mvz, other, lanr_a, lanr_b):
    from kvportal.core.quarters import Quarter
    from kvportal.documents.models import Document, quarter_to_int

    today = timezone.localdate()
    docs = []
    for practice in (mvz, other):
        for n, lanr in enumerate(dict.fromkeys(("", lanr_a, lanr_b))):
            docs.append(
                Document.objects.create(
                    betriebsstaette=practice,
                    quarter=quarter_to_int(Quarter.of(today).previous()),
                    lanr=lanr,
                    doc_type="richtigstellung",
                    title=f"Dokument {practice.bsnr} {lanr or 'BSNR'}",
                    file="documents/x.pdf",
                    sha256=f"{n}" * 64,
                    deletion_date=today.replace(year=today.year + 10),
                )
            )
    return docs


def test_document_recipients_are_exactly_the_users_the_scope_lets_see_the_document():
    """Seed 000: BSNR-wide right → every document of the BSNR; own-LANR right → only documents
    with his LANR; neither → nothing. The inverse query must name the same people."""
    from kvportal.documents.models import Document

    mvz, other = BetriebsstaetteFactory(mvz=True), BetriebsstaetteFactory()
    wide = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_BSNR)
    own_a = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    own_b = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    billing_only = doctor_account(mvz, Role.ANGESTELLT, Right.BILLING)
    elsewhere = doctor_account(other, Role.VERTRAGSARZT, Right.DOCS_BSNR, Right.DOCS_LANR)
    inactive = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_BSNR)
    inactive.is_active = False
    inactive.save()
    helper = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    grant(helper, mvz, Right.DOCS_BSNR)
    users = [wide, own_a, own_b, billing_only, elsewhere, inactive, helper]
    docs = _documents(mvz, other, own_a.person.lanr, own_b.person.lanr)

    for document in docs:
        recipients = set(
            scope.document_recipients(
                betriebsstaette_id=document.betriebsstaette_id, lanr=document.lanr or None
            )
        )
        seeing = {
            u
            for u in users
            if scope.filter_documents(u, Document.objects.filter(pk=document.pk)).exists()
        }
        assert recipients == seeing, document.title
    # and the rule itself, read from the seed
    bsnr_doc = docs[0]
    assert set(scope.document_recipients(betriebsstaette_id=mvz.pk, lanr=None)) == {wide, helper}
    lanr_doc = docs[1]
    assert lanr_doc.lanr == own_a.person.lanr
    assert set(scope.document_recipients(betriebsstaette_id=mvz.pk, lanr=own_a.person.lanr)) == {
        wide,
        helper,
        own_a,
    }
    assert bsnr_doc.betriebsstaette_id == mvz.pk


def test_notices_go_to_the_same_people_when_they_opted_in():
    from kvportal.documents.services import recipients_for

    mvz = BetriebsstaetteFactory(mvz=True)
    wide = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_BSNR)
    muted = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_BSNR)
    for user, notify in ((wide, True), (muted, False)):
        user.notify_by_email = notify
        user.save()
    document = _documents(mvz, BetriebsstaetteFactory(), "", "")[0]
    assert recipients_for(document) == [wide]


def test_zulassung_staff_never_see_drafts():
    from django.http import Http404

    from kvportal.admission import selectors
    from kvportal.admission.models import Application

    practice = BetriebsstaetteFactory()
    person = PersonFactory()
    TaetigkeitFactory(person=person, betriebsstaette=practice)
    author = UserFactory(person=person)
    draft = Application.objects.create(
        type_code="erhoehung_arzt",
        betriebsstaette=practice,
        committee="zulassung",
        created_by=author,
    )
    submitted = Application.objects.create(
        type_code="erhoehung_arzt",
        betriebsstaette=practice,
        committee="zulassung",
        created_by=author,
        state="eingereicht",
    )
    assert list(selectors.staff_applications()) == [submitted]
    assert list(selectors.staff_inbox()) == [submitted]
    assert selectors.staff_application(submitted.pk) == submitted
    with pytest.raises(Http404):
        selectors.staff_application(draft.pk)


def test_arztregister_staff_never_see_drafts_in_the_queue():
    from kvportal.access import rules, selectors
    from kvportal.access.models import AccessApplication

    draft = AccessApplication.objects.create(reference="Z-TEST-1", status=rules.Status.ENTWURF)
    submitted = AccessApplication.objects.create(
        reference="Z-TEST-2", status=rules.Status.EINGEREICHT
    )
    assert list(selectors.staff_applications()) == [submitted]
    assert list(selectors.staff_queue()) == [submitted]
    assert draft not in selectors.staff_queue(status=rules.Status.ENTWURF)


def test_has_any_follows_the_rights_held():
    """`scope.has_any`: a right at any one BSNR counts; none, or another right, does not."""
    practice = BetriebsstaetteFactory()
    doctor = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    assert scope.has_any(doctor)
    assert scope.has_any(doctor, Right.DOCS_LANR)
    assert not scope.has_any(doctor, Right.BILLING)
    stranger = UserFactory()
    assert not scope.has_any(stranger)
