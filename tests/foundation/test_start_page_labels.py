"""The start page names practice form, rights and recent activities with their German labels
(issue 13 takes them from the choices instead of get_FOO_display(); the text stays)."""

from __future__ import annotations

import html

import pytest

from kvportal.accounts.constants import Right
from kvportal.audit.models import Activity
from kvportal.members.constants import PracticeKind
from tests.foundation.test_query_counts import build_world

pytestmark = pytest.mark.django_db


def test_start_page_shows_the_labels_of_kind_rights_and_activities(client):
    client.force_login(build_world(2))
    page = html.unescape(client.get("/").content.decode())
    table = page.split('id="practice-rights"')[1].split("</table>")[0]
    assert table.count(str(PracticeKind.MVZ.label)) == 2
    for right in (Right.BILLING, Right.DOCS_BSNR, Right.DOCS_LANR):
        assert table.count(f"<li>{right.label}</li>") == 2
    recent = page.split('id="recent-h"')[1].split("</section>")[0]
    assert f"– {Activity.VIEW.label}: " in recent
    assert "get_" not in recent and "view" not in recent.split("</h2>")[1].split("<a ")[0]
