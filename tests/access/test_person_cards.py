"""Issue 14 "Access application": one card per person (add, edit, remove), the Praxisform
not asked twice, the Träger only for an MVZ."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kvportal.access.forms import HeaderForm, PersonForm
from tests.access.helpers import draft, mvz_world

pytestmark = pytest.mark.django_db


def test_a_removed_person_counts_as_blank():
    form = PersonForm({"role": "arzt", "last_name": "Weg", "remove": "on"})
    assert form.is_valid() and form.is_blank()
    kept = PersonForm({"role": "arzt", "last_name": "Bleibt"})
    assert kept.is_valid() and not kept.is_blank()


def test_praxisform_is_not_asked_again_and_traeger_only_for_an_mvz():
    mvz = HeaderForm(initial={"variant": "mvz"})
    assert mvz["variant"].is_hidden and not mvz["traeger_name"].is_hidden
    assert mvz.variant_label().startswith("Medizinisches Versorgungszentrum")
    single = HeaderForm(initial={"variant": "einzelpraxis"})
    assert single["traeger_name"].is_hidden


def test_edit_page_shows_cards_and_remove_drops_the_person(client):
    from kvportal.accounts.constants import Right
    from tests.factories import UserFactory, grant

    practice, leiter, arzt = mvz_world()
    user = UserFactory(person=leiter)
    grant(user, practice, Right.BILLING)
    app = draft(practice, leiter, arzt, actor=user)
    client.force_login(user)
    url = reverse("access:edit", args=[app.reference])
    html = client.get(url).content.decode()
    count = app.persons.count()
    assert count >= 2
    assert html.count('class="person-card"') >= count
    assert 'class="zusatzblatt"' not in html
    # remove the last person: the draft keeps the others
    data = {
        "variant": app.variant,
        "practice_name": app.practice_name,
        "bsnr": app.bsnr,
        "traeger_name": app.traeger_name,
        "acknowledge": "on",
        "action": "save",
        "p-TOTAL_FORMS": str(count),
        "p-INITIAL_FORMS": str(count),
    }
    for i, person in enumerate(app.persons.order_by("position")):
        for field in ("role", "last_name", "first_name", "email", "lanr"):
            data[f"p-{i}-{field}"] = getattr(person, field) or ""
        for field in ("listed", "right_billing", "right_docs_bsnr", "right_docs_lanr"):
            if getattr(person, field):
                data[f"p-{i}-{field}"] = "on"
    removed = app.persons.order_by("position").last()
    data[f"p-{count - 1}-remove"] = "on"
    assert client.post(url, data).status_code == 302
    names = list(app.persons.values_list("last_name", flat=True))
    assert len(names) == count - 1 and removed.last_name not in names
