"""Staff worklist "Fehlende Abgaben" (issue 14): Hauptbetriebsstätten without a current
submission for a quarter; default = the quarter whose submission window is open or just
closed (KV Sachsen: window 30.03.–15.04., 30.06.–15.07., 30.09.–15.10., 30.12.–15.01.)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kvportal.billing import rules
from kvportal.billing.models import Submission, SubmissionState
from kvportal.core.quarters import Quarter
from kvportal.members.constants import SiteKind
from tests.billing.html import main
from tests.factories import BetriebsstaetteFactory


def spec_default_quarter(today: dt.date) -> Quarter:
    """From the window dates: the quarter of `today` once its window opened on the 30th of
    its last month, else the quarter before."""
    quarter = Quarter.of(today)
    opens = dt.date(quarter.year, 3 * quarter.quarter, 30)
    return quarter if today >= opens else quarter.previous()


def submission(practice, quarter: Quarter, *, current: bool, state=SubmissionState.ACCEPTED):
    return Submission.objects.create(
        betriebsstaette=practice,
        quarter=quarter.slug,
        kind="con",
        original_name="abrechnung.con",
        storage_name="x",
        size=1,
        sha256="0" * 64,
        submitted_by_name="Test",
        timing=rules.Timing.ON_TIME.value,
        state=state,
        is_current=current,
    )


# --- the pure rule -----------------------------------------------------------------------------


def test_reporting_quarter_switches_when_the_window_opens():
    quarter = Quarter.of(timezone.localdate())
    windows = [rules.default_window(q) for q in (quarter.previous(), quarter, quarter.next())]
    opens = dt.date(quarter.year, 3 * quarter.quarter, 30)
    assert rules.reporting_quarter(opens, windows) == quarter
    assert rules.reporting_quarter(opens - dt.timedelta(days=1), windows) == quarter.previous()
    # still the same quarter after the window closed (15th of the following month) …
    closed = rules.default_window(quarter).ends + dt.timedelta(days=20)
    assert rules.reporting_quarter(closed, windows) == quarter


def test_reporting_quarter_without_open_window_is_the_previous_quarter():
    quarter = Quarter.of(timezone.localdate())
    assert rules.reporting_quarter(quarter.start, []) == quarter.previous()


# --- the page ----------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    today = timezone.localdate()
    quarter = spec_default_quarter(today)
    done = BetriebsstaetteFactory(name="Praxis Abgegeben")
    submission(done, quarter, current=True)
    rejected = BetriebsstaetteFactory(name="Praxis Abgelehnt")
    submission(rejected, quarter, current=False, state=SubmissionState.REJECTED)
    earlier = BetriebsstaetteFactory(name="Praxis Vorquartal")
    submission(earlier, quarter.previous(), current=True)
    nothing = BetriebsstaetteFactory(name="Praxis Ohne")
    neben = BetriebsstaetteFactory(name="Nebenbetrieb", site=SiteKind.NEBEN, haupt=nothing)
    return {
        "quarter": quarter,
        "done": done,
        "rejected": rejected,
        "earlier": earlier,
        "nothing": nothing,
        "neben": neben,
    }


def rows(response) -> list[list[str]]:
    table = main(response.content).by_id("missing-submissions")
    body = table.find_all("tbody")[0]
    return [[td.text for td in tr.find_all("td")] for tr in body.find_all("tr")]


def test_default_quarter_lists_bsnrs_without_current_submission(staff_client, world):
    client, _ = staff_client("Abrechnung")
    response = client.get(reverse("billing:missing"))
    assert response.status_code == 200
    bsnrs = [row[0] for row in rows(response)]
    expected = sorted(world[k].bsnr for k in ("rejected", "earlier", "nothing"))
    assert bsnrs == expected
    count = main(response.content).by_id("missing-count").text
    assert count.startswith("3 Betriebsstätten") and str(world["quarter"]) in count
    selected = main(response.content).by_id("id_quartal")
    chosen = [o for o in selected.find_all("option") if "selected" in o.attrs]
    assert [o.attrs["value"] for o in chosen] == [world["quarter"].slug]


def test_other_quarter_and_sorting_by_name(staff_client, world):
    client, _ = staff_client("Abrechnung")
    previous = world["quarter"].previous()
    response = client.get(
        reverse("billing:missing"), {"quartal": previous.slug, "sortierung": "-name"}
    )
    names = [row[1] for row in rows(response)]
    # in the previous quarter only "Praxis Vorquartal" has a current file
    assert names == ["Praxis Ohne", "Praxis Abgelehnt", "Praxis Abgegeben"]


def test_bad_quarter_gives_a_german_message(staff_client, world):
    client, _ = staff_client("Abrechnung")
    response = client.get(reverse("billing:missing"), {"quartal": "1999-9"})
    assert response.status_code == 200
    text = main(response.content).text
    assert "Das Quartal „1999-9“ ist nicht auswählbar" in text
    # the list still shows the default quarter
    assert len(rows(response)) == 3


def test_page_is_linked_from_the_staff_list_and_needs_the_role(staff_client, world):
    client, _ = staff_client("Abrechnung")
    page = main(client.get(reverse("billing:staff_list")).content)
    assert reverse("billing:missing") in [a.attrs.get("href") for a in page.find_all("a")]
    other, _ = staff_client("Zulassung")
    assert other.get(reverse("billing:missing")).status_code in (403, 404)
