"""Issue 14: registry pages in the portal's own staff UI (Arztregister), audited writes."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.utils import timezone

from kvportal.accounts.constants import StaffRole
from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.members.constants import Role
from kvportal.members.identifiers import make_lanr
from kvportal.members.models import Betriebsstaette, Person, Taetigkeit
from tests.a11y_forms import assert_errors_tied
from tests.factories import BetriebsstaetteFactory, PersonFactory, TaetigkeitFactory

pytestmark = pytest.mark.django_db

PRACTICES = "/arztregister/kv/betriebsstaetten/"
PERSONS = "/arztregister/kv/personen/"


def _valid_bsnr() -> str:
    return BetriebsstaetteFactory.build().bsnr


def test_only_arztregister_sees_the_registry_pages(staff_client, client):
    practice = BetriebsstaetteFactory()
    person = PersonFactory()
    urls = [PRACTICES, f"{PRACTICES}{practice.pk}/", PERSONS, f"{PERSONS}{person.pk}/"]
    for url in urls:
        assert client.get(url).status_code in (302, 404)
    other, _ = staff_client(StaffRole.ABRECHNUNG)
    for url in urls:
        assert other.get(url).status_code == 404


def test_practice_list_searches_and_sorts(staff_client):
    a = BetriebsstaetteFactory(name="Zahnarztpraxis Aue", city="Aue")
    b = BetriebsstaetteFactory(name="Arztpraxis Borna", city="Borna")
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    page = c.get(PRACTICES, {"q": "borna"}).content.decode()
    assert b.bsnr in page and a.bsnr not in page
    by_name = c.get(PRACTICES, {"sort": "name"}).content.decode()
    assert by_name.index("Arztpraxis Borna") < by_name.index("Zahnarztpraxis Aue")
    assert 'aria-sort="ascending"' in by_name
    by_name_desc = c.get(PRACTICES, {"sort": "-name"}).content.decode()
    assert by_name_desc.index("Zahnarztpraxis Aue") < by_name_desc.index("Arztpraxis Borna")
    assert 'aria-sort="descending"' in by_name_desc
    # unknown sort keys fall back to the BSNR order instead of an error
    assert c.get(PRACTICES, {"sort": "password"}).status_code == 200


def test_person_list_searches_name_and_lanr(staff_client):
    p1 = PersonFactory(last_name="Sonnenschein")
    p2 = PersonFactory(last_name="Regenbogen")
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    page = c.get(PERSONS, {"q": "sonnen"}).content.decode()
    assert "Sonnenschein" in page and "Regenbogen" not in page
    page = c.get(PERSONS, {"q": p2.lanr}).content.decode()
    assert "Regenbogen" in page and "Sonnenschein" not in page
    by_lanr_desc = c.get(PERSONS, {"sort": "-lanr"}).content.decode()
    first, second = sorted([p1, p2], key=lambda p: p.lanr, reverse=True)
    assert by_lanr_desc.index(first.last_name) < by_lanr_desc.index(second.last_name)


def test_create_practice_validates_in_german_at_the_field(staff_client):
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    response = c.post(
        f"{PRACTICES}neu/",
        {"bsnr": "12345", "name": "", "kind": "mvz", "site": "neben", "bezirk": "dresden",
         "postal_code": "0106"},
    )  # fmt: skip
    assert response.status_code == 200
    page = response.content.decode()
    assert_errors_tied(page)
    assert "Die PLZ hat fünf Ziffern." in html.unescape(page)
    assert "Eine Nebenbetriebsstätte braucht ihre Hauptbetriebsstätte." in html.unescape(page)
    assert "Dieses Feld ist zwingend erforderlich." in html.unescape(page)
    assert not Betriebsstaette.objects.exists()


def test_create_and_edit_practice_audits_changed_fields(staff_client):
    c, user = staff_client(StaffRole.ARZTREGISTER)
    bsnr = _valid_bsnr()
    data = {"bsnr": bsnr, "name": "MVZ Elbtal", "kind": "mvz", "site": "haupt",
            "bezirk": "dresden", "postal_code": "01067", "city": "Dresden"}  # fmt: skip
    response = c.post(f"{PRACTICES}neu/", data)
    practice = Betriebsstaette.objects.get(bsnr=bsnr)
    assert response.url == f"{PRACTICES}{practice.pk}/"
    created = AccessLogEntry.objects.get(
        activity=Activity.CREATE, object_type="members.betriebsstaette", object_id=str(practice.pk)
    )
    assert created.user == user and created.detail["changes"]["name"] == [None, "MVZ Elbtal"]
    c.post(f"{PRACTICES}{practice.pk}/bearbeiten/", {**data, "city": "Pirna"})
    practice.refresh_from_db()
    assert practice.city == "Pirna"
    changed = AccessLogEntry.objects.get(
        activity=Activity.UPDATE, object_type="members.betriebsstaette", object_id=str(practice.pk)
    )
    assert changed.detail["changes"] == {"city": ["Dresden", "Pirna"]}
    detail = c.get(f"{PRACTICES}{practice.pk}/").content.decode()
    assert "Dresden → Pirna" in html.unescape(detail)  # the history names the change


def test_practice_form_prefilled_from_query_and_returns_to_next(staff_client):
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    bsnr = _valid_bsnr()
    page = c.get(
        f"{PRACTICES}neu/",
        {"bsnr": bsnr, "name": "Praxis Aus Antrag", "kind": "bag", "next": "/zugang/kv/antraege/"},
    ).content.decode()
    assert f'value="{bsnr}"' in page and 'value="Praxis Aus Antrag"' in page
    assert '<option value="bag" selected>' in page
    data = {"bsnr": bsnr, "name": "Praxis Aus Antrag", "kind": "bag", "site": "haupt",
            "bezirk": "leipzig", "next": "/zugang/kv/antraege/"}  # fmt: skip
    assert c.post(f"{PRACTICES}neu/", data).url == "/zugang/kv/antraege/"
    # a foreign host is never a redirect target
    data["bsnr"] = _valid_bsnr()
    data["next"] = "https://evil.example/"
    response = c.post(f"{PRACTICES}neu/", data)
    assert response.url.startswith(PRACTICES)


def test_edit_person_and_taetigkeit_through_audited_services(staff_client):
    person = PersonFactory(last_name="Altname")
    practice = BetriebsstaetteFactory()
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    data = {"lanr": person.lanr, "title": "", "first_name": person.first_name,
            "last_name": "Neuname", "profession": "arzt", "email": ""}  # fmt: skip
    assert c.post(f"{PERSONS}{person.pk}/bearbeiten/", data).status_code == 302
    entry = AccessLogEntry.objects.get(
        activity=Activity.UPDATE, object_type="members.person", object_id=str(person.pk)
    )
    assert entry.detail["changes"]["last_name"] == ["Altname", "Neuname"]
    # a Tätigkeit as Ärztlicher Leiter
    start = timezone.localdate() - dt.timedelta(days=30)
    response = c.post(
        f"{PERSONS}{person.pk}/taetigkeiten/neu/",
        {"bsnr": practice.bsnr, "role": Role.AERZTLICHER_LEITER, "valid_from": start.isoformat()},
    )
    assert response.status_code == 302
    t = Taetigkeit.objects.get(person=person)
    assert t.role == Role.AERZTLICHER_LEITER and t.betriebsstaette == practice
    # changed to employed with a factor
    c.post(
        f"/arztregister/kv/taetigkeiten/{t.pk}/bearbeiten/",
        {"bsnr": practice.bsnr, "role": Role.ANGESTELLT, "valid_from": start.isoformat(),
         "anrechnungsfaktor": "0.50"},
    )  # fmt: skip
    t.refresh_from_db()
    assert t.role == Role.ANGESTELLT
    change = AccessLogEntry.objects.get(
        object_type="members.taetigkeit", object_id=str(t.pk), activity=Activity.UPDATE
    )
    assert change.detail["changes"]["role"] == [Role.AERZTLICHER_LEITER, Role.ANGESTELLT]
    assert change.detail["changes"]["anrechnungsfaktor"] == [None, "0.50"]


def test_taetigkeit_errors_at_the_field(staff_client):
    person = PersonFactory()
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    today = timezone.localdate()
    response = c.post(
        f"{PERSONS}{person.pk}/taetigkeiten/neu/",
        {"bsnr": "999999999", "role": "", "valid_from": today.isoformat(),
         "valid_to": (today - dt.timedelta(days=1)).isoformat()},
    )  # fmt: skip
    page = html.unescape(response.content.decode())
    assert_errors_tied(response.content.decode())
    assert "Die BSNR 999999999 ist im Arztregister nicht angelegt." in page
    assert "Das Ende darf nicht vor dem Beginn liegen." in page
    assert not Taetigkeit.objects.exists()


def test_person_lanr_check_digit_message(staff_client):
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    good = make_lanr("765432", "01")
    bad = good[:6] + str((int(good[6]) + 1) % 10) + good[7:]
    response = c.post(
        f"{PERSONS}neu/",
        {"lanr": bad, "first_name": "Ida", "last_name": "Irrtum", "profession": "arzt"},
    )
    assert response.status_code == 200
    assert_errors_tied(response.content.decode())
    assert 'id="id_lanr_error"' in response.content.decode()
    assert not Person.objects.filter(last_name="Irrtum").exists()


def test_end_taetigkeit_needs_confirmation_and_reason(staff_client):
    t = TaetigkeitFactory(valid_from=timezone.localdate() - dt.timedelta(days=100))
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    url = f"/arztregister/kv/taetigkeiten/{t.pk}/beenden/"
    page = html.unescape(c.get(url).content.decode())
    assert "Folgen dieser Entscheidung:" in page and t.betriebsstaette.bsnr in page
    last_day = timezone.localdate()
    response = c.post(url, {"valid_to": last_day.isoformat(), "reason": "  "})
    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert "Bitte geben Sie eine Begründung an." in text
    assert "Bitte bestätigen Sie, dass Sie fortfahren möchten." in text
    assert_errors_tied(response.content.decode())
    t.refresh_from_db()
    assert t.valid_to is None
    response = c.post(
        url, {"valid_to": last_day.isoformat(), "reason": "Praxis aufgegeben", "confirmed": "on"}
    )
    assert response.status_code == 302
    t.refresh_from_db()
    assert t.valid_to == last_day
    entry = AccessLogEntry.objects.get(
        object_type="members.taetigkeit", object_id=str(t.pk), activity=Activity.UPDATE
    )
    assert entry.detail["reason"] == "Praxis aufgegeben"
    assert entry.detail["changes"]["valid_to"] == [None, last_day.isoformat()]
    edit = html.unescape(
        c.get(f"/arztregister/kv/taetigkeiten/{t.pk}/bearbeiten/").content.decode()
    )
    assert "Begründung: Praxis aufgegeben" in edit


def test_end_taetigkeit_before_start_refused(staff_client):
    start = timezone.localdate() - dt.timedelta(days=10)
    t = TaetigkeitFactory(valid_from=start)
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    response = c.post(
        f"/arztregister/kv/taetigkeiten/{t.pk}/beenden/",
        {"valid_to": (start - dt.timedelta(days=1)).isoformat(), "reason": "x", "confirmed": "on"},
    )
    assert "Das Ende darf nicht vor dem Beginn" in html.unescape(response.content.decode())
    t.refresh_from_db()
    assert t.valid_to is None


def test_end_taetigkeit_service_refuses_without_reason_and_non_registry_staff():
    from django.core.exceptions import PermissionDenied, ValidationError

    from kvportal.members import services
    from tests.factories import kv_staff

    t = TaetigkeitFactory(valid_from=timezone.localdate() - dt.timedelta(days=5))
    registrar = kv_staff(StaffRole.ARZTREGISTER, username="kv.reg")
    with pytest.raises(ValidationError):
        services.end_taetigkeit(
            actor=registrar, taetigkeit=t, valid_to=timezone.localdate(), reason=" "
        )
    with pytest.raises(PermissionDenied):
        services.end_taetigkeit(
            actor=kv_staff(StaffRole.ABRECHNUNG, username="kv.abr"),
            taetigkeit=t,
            valid_to=timezone.localdate(),
            reason="Ende",
        )


def test_staff_nav_shows_registry_pages_for_arztregister_only(staff_client):
    c, _ = staff_client(StaffRole.ARZTREGISTER)
    page = c.get(PRACTICES).content.decode()
    assert f'href="{PRACTICES}"' in page and f'href="{PERSONS}"' in page


def test_account_deactivation_needs_confirmation_and_reason(staff_client):
    from kvportal.accounts.constants import Right
    from tests.factories import doctor_account

    practice = BetriebsstaetteFactory()
    member = doctor_account(practice, Role.ANGESTELLT, Right.DOCS_LANR)
    c, user = staff_client(StaffRole.ARZTREGISTER)
    person_page = c.get(f"{PERSONS}{member.person_id}/").content.decode()
    assert member.username in person_page and "Deaktivieren …" in person_page
    url = f"/arztregister/kv/konten/{member.pk}/deaktivieren/"
    page = html.unescape(c.get(url).content.decode())
    assert "keine Anmeldung mehr möglich" in page
    c.post(url, {"reason": "Praxis verlassen"})  # not confirmed
    member.refresh_from_db()
    assert member.is_active
    response = c.post(url, {"reason": "Praxis verlassen", "confirmed": "on"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.is_active and not member.portal_rights.exists()
    entry = AccessLogEntry.objects.get(
        activity=Activity.ACCOUNT_DISABLED, object_type="accounts.user", object_id=str(member.pk)
    )
    assert entry.user == user and entry.detail["reason"] == "Praxis verlassen"
    person_page = html.unescape(c.get(f"{PERSONS}{member.person_id}/").content.decode())
    assert "Begründung: Praxis verlassen" in person_page and "deaktiviert" in person_page
