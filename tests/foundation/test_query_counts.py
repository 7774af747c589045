"""Issue 13: every member page runs a number of queries that does not grow with the number of
practices the user holds or the rows on the page (a Träger with 20 BSNRs once got 154 queries
on his start page). Each page is counted for a user with 1 and with 20 practices."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kvportal import audit
from kvportal.accounts.constants import AccountKind, Right
from kvportal.accounts.models import PortalRight
from kvportal.audit.models import Activity
from kvportal.core.quarters import Quarter
from kvportal.members.constants import Role
from tests.factories import (
    BetriebsstaetteFactory,
    PersonFactory,
    TaetigkeitFactory,
    UserFactory,
    grant,
)

pytestmark = pytest.mark.django_db

#: member pages listing practices or rows
PAGES = [
    "/",
    "/dokumente/",
    "/abrechnung/",
    "/abrechnung/testabrechnung/",
    "/abrechnung/einreichen/",
    "/zulassung/",
    "/zulassung/neu/",
    "/zugang/meine-antraege/",
    "/konto/protokoll/",
    "/konto/protokoll/?anzeigen=praxis",
    "/konto/mitarbeiter/",
    "/konto/api-zugaenge/",
    "/konto/einstellungen/",
    "/ehba/registrieren/",
]


#: who looks at the pages: an Ärztlicher Leiter (every right, signature-entitled, applicant),
#: an employed doctor (rights, but neither signature nor applications), Praxispersonal
VIEWERS = ["leiter", "angestellt", "praxispersonal"]


def build_world(count: int, viewer: str = "leiter"):
    """A viewer holding every right at `count` MVZ, with documents, submissions, declarations,
    applications, staff accounts and log entries per practice."""
    from kvportal.admission.models import Application
    from kvportal.billing.models import Declaration, Submission
    from kvportal.documents.models import Document, quarter_to_int

    person = PersonFactory()
    if viewer == "praxispersonal":
        user = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    else:
        user = UserFactory(person=person, first_name=person.first_name, last_name=person.last_name)
    today = timezone.localdate()
    quarter = Quarter.of(today).previous()
    for n in range(count):
        practice = BetriebsstaetteFactory(mvz=True)
        TaetigkeitFactory(
            person=person,
            betriebsstaette=practice,
            role=Role.ANGESTELLT if viewer == "angestellt" else Role.AERZTLICHER_LEITER,
            valid_from=today - dt.timedelta(days=400),
        )
        TaetigkeitFactory(
            betriebsstaette=practice, role=Role.ANGESTELLT, valid_from=today - dt.timedelta(days=9)
        )
        if viewer == "praxispersonal":
            grant(user, practice, Right.BILLING, Right.DOCS_BSNR)
        else:
            grant(user, practice, Right.BILLING, Right.DOCS_BSNR, Right.DOCS_LANR)
        helper = UserFactory(kind=AccountKind.PRAXISPERSONAL, created_by=user)
        grant(helper, practice, Right.BILLING)
        for k, doc_type in enumerate(["honorarbescheid", "richtigstellung"]):
            Document.objects.create(
                betriebsstaette=practice,
                quarter=quarter_to_int(quarter),
                lanr=person.lanr if k else "",
                doc_type=doc_type,
                title=f"Dokument {n}-{k}",
                file=f"documents/test-{n}-{k}.pdf",
                sha256="0" * 64,
                amount=1000 + n if not k else None,
                deletion_date=today + dt.timedelta(days=3650),
            )
        submission = Submission.objects.create(
            betriebsstaette=practice,
            quarter=quarter.slug,
            original_name=f"Z01{practice.bsnr}.con",
            storage_name=f"billing/{n}.con",
            size=10,
            sha256="1" * 64,
            submitted_by=user,
            submitted_by_name="Test",
            timing="on_time",
            is_current=True,
        )
        Declaration.objects.create(
            betriebsstaette=practice,
            quarter=submission.quarter,
            given_by=user,
            given_by_name="Test",
        )
        Application.objects.create(
            type_code="erhoehung_arzt",
            betriebsstaette=practice,
            committee="zulassung",
            created_by=user,
            state="eingereicht",
        )
        audit.record(actor=user, activity=Activity.VIEW, obj=practice, bsnr=practice.bsnr)
    assert (
        PortalRight.objects.filter(user=user).count()
        == (2 if viewer == "praxispersonal" else 3) * count
    )
    return user


def queries_for(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    # 403/404: the page is not for this viewer (e.g. Praxispersonal creating staff accounts)
    assert response.status_code in (200, 403, 404), (url, response.status_code)
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize(("url", "viewer"), [(url, viewer) for url in PAGES for viewer in VIEWERS])
def test_queries_do_not_grow_with_practices_or_rows(client, url, viewer):
    counted = {}
    for n in (1, 20):
        client.force_login(build_world(n, viewer))
        client.get(url)  # the gate decision and first stamp are taken once per login
        counted[n] = queries_for(client, url)
    assert len(counted[20]) == len(counted[1]), "\n".join(counted[20])


def test_a_traeger_with_20_practices_gets_his_start_page_in_few_queries(client):
    """Issue 13 measured 154 queries; now: session, user, rights, roles, one per panel and one
    per source of "Ihre Aufgaben" (access drafts, signatures, admission drafts) — a constant."""
    client.force_login(build_world(20))
    client.get("/")
    sql = queries_for(client, "/")
    # + eArztbrief panel, e-mail confirmation task; 22 since the unread count is read once;
    # 23 since the eArztbrief panel reads its doctors' ids first (one indexed query instead of
    # a subquery OR-ed with the own person, which walked the whole register: 43 ms on 15,000)
    assert len(sql) <= 23, "\n".join(sql)
    assert sum("accounts_portalright" in q for q in sql) == 1  # rights read once per request
    # the documents card and "Ihre Aufgaben" share one count of the unread documents
    unread = [q for q in sql if "COUNT(" in q and "documents_document" in q]
    assert len(unread) == 1, unread
