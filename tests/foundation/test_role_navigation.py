"""Issue 14: the menu shows only what the role can do ("Verwaltung" groups the account pages),
the start page begins with "Ihre Aufgaben", and a pending first password change shows a
reduced layout."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from kvportal.accounts import services
from kvportal.accounts.constants import AccountKind, Right
from kvportal.core import registry
from kvportal.members.constants import Role
from tests.factories import BetriebsstaetteFactory, UserFactory, doctor_account, grant

pytestmark = pytest.mark.django_db


def _nav(client) -> tuple[str, str]:
    """(top level, "Verwaltung" submenu) of the main navigation on the start page."""
    html = client.get(reverse("core:home")).content.decode()
    nav = html.split('id="main-nav"', 1)[1].split("</nav>", 1)[0]
    top, _, group = nav.partition('class="nav-group"')
    return top, group


def test_employed_doctor_without_delegable_rights_sees_neither_staff_nor_api_nor_billing(client):
    practice = BetriebsstaetteFactory(mvz=True)
    doctor = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    client.force_login(doctor)
    top, group = _nav(client)
    assert "Dokumente" in top
    for hidden in ("Praxispersonal", "API-Zugänge", "Abrechnung", "Testabrechnung"):
        assert hidden not in top + group, hidden
    assert "<summary>Verwaltung</summary>" in group
    assert "Zugriffsprotokoll" in group and "Mein Konto" in group
    home = client.get(reverse("core:home")).content.decode()
    assert 'id="billing-opens"' not in home  # nothing about billing for who cannot bill


def test_holder_finds_staff_accounts_and_api_under_verwaltung(client):
    practice = BetriebsstaetteFactory()
    holder = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING, Right.DOCS_BSNR)
    client.force_login(holder)
    top, group = _nav(client)
    assert "Abrechnung" in top
    assert "Praxispersonal" not in top and "API-Zugänge" not in top
    assert reverse("accounts:staff_accounts") in group and reverse("accounts:api_tokens") in group
    assert 'id="billing-opens"' in client.get(reverse("core:home")).content.decode()


def test_praxispersonal_with_billing_uses_api_but_creates_no_accounts(client):
    practice = BetriebsstaetteFactory()
    holder = doctor_account(practice, Role.VERTRAGSARZT, Right.BILLING)
    assistant = UserFactory(kind=AccountKind.PRAXISPERSONAL)
    grant(assistant, practice, Right.BILLING)
    assert holder.pk != assistant.pk
    client.force_login(assistant)
    _top, group = _nav(client)
    assert "API-Zugänge" in group
    assert "Praxispersonal" not in group


def test_kv_staff_find_the_backoffice_under_verwaltung(staff_client):
    client, _user = staff_client("Arztregister")
    html = client.get(reverse("core:home")).content.decode()
    nav = html.split('id="main-nav"', 1)[1].split("</nav>", 1)[0]
    top, _, group = nav.partition('class="nav-group"')
    assert "Zugangsanträge" in top
    assert "Backoffice (Admin)" in group and "Backoffice (Admin)" not in top


def test_burger_menu_is_a_details_without_inline_script(client):
    client.force_login(doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING))
    html = client.get(reverse("core:home")).content.decode()
    nav = html.split('id="main-nav"', 1)[1].split("</nav>", 1)[0]
    assert '<details class="nav-menu" open data-nav-menu>' in nav
    assert '<summary class="nav-toggle">' in nav
    assert "<script" not in nav and "onclick" not in nav


def test_start_page_begins_with_your_tasks(client):
    from tests.access.helpers import draft, mvz_world

    practice, leiter, arzt = mvz_world()
    user = UserFactory(person=leiter)
    grant(user, practice, Right.BILLING)
    app = draft(practice, leiter, arzt, actor=user)
    client.force_login(user)
    html = client.get(reverse("core:home")).content.decode()
    main = html.split("<main", 1)[1]
    assert main.index('id="tasks-h"') < main.index("<h2", main.index("<h1") + 1) + 20
    tasks = main.split('id="tasks"', 1)[1].split("</section>", 1)[0]
    assert f"Antrag {app.reference} fertigstellen" in tasks
    assert reverse("access:edit", args=[app.reference]) in tasks


def test_no_tasks_says_so(client):
    # issue 14: billing tasks and the e-mail confirmation are tasks too, so: no billing right,
    # a confirmed address
    from django.utils import timezone

    from kvportal.selfservice.models import EmailConfirmation

    user = doctor_account(BetriebsstaetteFactory(), Role.ANGESTELLT, Right.DOCS_LANR)
    EmailConfirmation.objects.create(
        user=user, email=user.email, confirmed_email=user.email, confirmed_at=timezone.now()
    )
    client.force_login(user)
    html = client.get(reverse("core:home")).content.decode()
    assert "Zurzeit ist nichts zu erledigen." in html


def test_tasks_with_a_due_date_come_first():
    today = dt.date.today()
    source = lambda user: [  # noqa: E731
        registry.Task("B ohne Frist", "/b/"),
        registry.Task("C später", "/c/", due=today + dt.timedelta(days=9)),
        registry.Task("A bald", "/a/", due=today + dt.timedelta(days=2)),
    ]
    registry.register_tasks(source)
    try:
        user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
        labels = [t.label for t in registry.tasks_for(user) if t.url in ("/a/", "/b/", "/c/")]
    finally:
        registry._task_sources.remove(source)
    assert labels == ["A bald", "C später", "B ohne Frist"]


def test_reduced_layout_while_the_first_password_change_is_pending(client):
    user = doctor_account(BetriebsstaetteFactory(), Role.VERTRAGSARZT, Right.BILLING)
    services.issue_initial_password(actor=None, user=user)
    user.refresh_from_db()
    assert user.must_change_password
    client.force_login(user)
    html = client.get(reverse("accounts:password_change")).content.decode()
    assert 'id="main-nav"' not in html
    assert 'id="reduced-layout"' in html
    assert 'id="footer-links"' in html  # the legal pages stay linked
