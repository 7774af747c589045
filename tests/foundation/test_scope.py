"""The scoping layer: rights per user × BSNR, the Ärztlicher Leiter rule, document rights."""

import datetime as dt

import pytest
from django.http import Http404

from kvportal.accounts import scope
from kvportal.accounts.constants import AccountKind, Right
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, TaetigkeitFactory, doctor_account, kv_staff

pytestmark = pytest.mark.django_db


def test_rights_are_per_bsnr():
    a, b = BetriebsstaetteFactory(), BetriebsstaetteFactory()
    user = doctor_account(a, Role.VERTRAGSARZT, Right.BILLING)
    assert scope.has_right(user, a, Right.BILLING)
    assert not scope.has_right(user, b, Right.BILLING)
    assert not scope.has_right(user, a, Right.DOCS_BSNR)
    with pytest.raises(Http404):
        scope.require_right(user, b, Right.BILLING)


def test_aerztlicher_leiter_gets_billing_for_the_mvz_automatically():
    mvz = BetriebsstaetteFactory(mvz=True)
    leiter = doctor_account(mvz, Role.AERZTLICHER_LEITER, Right.DOCS_LANR)
    assert scope.has_right(leiter, mvz, Right.BILLING)


def test_aerztlicher_leiter_rule_needs_portal_access_and_an_active_role():
    mvz = BetriebsstaetteFactory(mvz=True)
    no_access = doctor_account(mvz, Role.AERZTLICHER_LEITER)
    assert not scope.has_right(no_access, mvz, Right.BILLING)
    former = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    TaetigkeitFactory(
        person=former.person,
        betriebsstaette=mvz,
        role=Role.AERZTLICHER_LEITER,
        valid_from=dt.date(2019, 1, 1),
        valid_to=dt.date(2019, 12, 31),
    )
    assert not scope.has_right(former, mvz, Right.BILLING)


def test_document_rights_bsnr_wide_versus_own_lanr():
    from kvportal.members.models import Betriebsstaette

    mvz = BetriebsstaetteFactory(mvz=True)
    BetriebsstaetteFactory()
    wide = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_BSNR)
    own = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    nothing = doctor_account(mvz, Role.ANGESTELLT, Right.BILLING)

    def docs(user):
        return set(
            scope.filter_documents(
                user,
                Betriebsstaette.objects.all(),
                bsnr_field="pk",
                lanr_field="taetigkeiten__person__lanr",
            ).values_list("bsnr", flat=True)
        )

    assert docs(wide) == {mvz.bsnr}
    assert docs(own) == {mvz.bsnr}  # the MVZ has a Tätigkeit carrying his LANR
    assert docs(nothing) == set()


def test_filter_documents_own_lanr_only_sees_own(django_user_model):
    """With the own-LANR right a doctor sees exactly the rows carrying his LANR."""
    from kvportal.accounts.models import PortalRight

    mvz = BetriebsstaetteFactory(mvz=True)
    a = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    b = doctor_account(mvz, Role.ANGESTELLT, Right.DOCS_LANR)
    rows = PortalRight.objects.all()  # rows: a's and b's rights at the MVZ
    seen = scope.filter_documents(
        a, rows, bsnr_field="betriebsstaette", lanr_field="user__person__lanr"
    )
    assert {r.user_id for r in seen} == {a.pk}
    assert b.pk not in {r.user_id for r in seen}


def test_staff_and_inactive_users_see_no_practice_data():
    practice = BetriebsstaetteFactory()
    staff = kv_staff("Abrechnung", username="kv.a")
    assert staff.kind == AccountKind.STAFF
    assert scope.practices(staff, Right.BILLING).count() == 0
    user = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    user.is_active = False
    user.save()
    assert not scope.has_right(user, practice, Right.BILLING)


def test_staff_roles():
    staff = kv_staff("Zulassung", username="kv.z")
    assert scope.is_staff_role(staff, "Zulassung")
    assert not scope.is_staff_role(staff, "Abrechnung")
