"""Issue 14 defect 5: the public access application without an image puzzle.

Anti-abuse by honeypot, signed stamp, proof-of-work and rate limits; refusals are German
messages that keep what the user typed; errors are tied to their fields (defect 4).
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from kvportal.access import antiabuse
from kvportal.access.forms import new_form_stamp
from kvportal.access.models import AccessApplication
from tests.a11y_forms import assert_errors_tied

pytestmark = pytest.mark.django_db
URL = "/zugang/beantragen/"


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    cache.clear()
    settings.ACCESS_POW_DIFFICULTY = 2
    settings.ACCESS_RATE_LIMITS = {"ip": 4, "ip_noscript": 2, "email": 3}
    yield
    cache.clear()


def solve(stamp: str, zeros: int) -> str:
    n = 0
    while not antiabuse.proof_ok(stamp, str(n), zeros=zeros):
        n += 1
    return str(n)


def post(client, *, proof=True, email="kontakt@mvz.example", nonce="n1", **extra):
    stamp = new_form_stamp()
    data = {
        "variant": "bag",
        "contact_email": email,
        "website": "",
        "stamp": stamp,
        "nonce": nonce,
        "proof": solve(stamp, 2) if proof else "",
        **extra,
    }
    return client.post(URL, data)


def test_proof_rule():
    stamp = "abc"
    answer = solve(stamp, 3)
    assert antiabuse.proof_ok(stamp, answer, zeros=3)
    assert not antiabuse.proof_ok("other-stamp", "x1", zeros=1)
    assert not antiabuse.proof_ok(stamp, "", zeros=0)
    assert not antiabuse.proof_ok(stamp, "1" * 13, zeros=0)


def test_page_has_no_image_puzzle_and_loads_the_proof_script(client):
    html = client.get(URL).content.decode()
    assert "<img" not in html.split('<main id="inhalt"', 1)[1]
    assert "captcha" not in html.lower()
    assert 'data-proof-of-work="2"' in html and "core/proof.js" in html
    assert "zu schnell" not in html


def test_start_with_proof_creates_the_draft(client):
    response = post(client)
    assert response.status_code == 302
    assert AccessApplication.objects.count() == 1


def test_immediate_submit_is_not_refused(client):
    # the hidden 3-second timer is gone: a fast human (autofill) is accepted
    assert post(client, proof=False).status_code == 302


def test_bad_proof_is_refused_and_keeps_the_input(client):
    stamp = new_form_stamp()
    wrong = next(str(n) for n in range(100) if not antiabuse.proof_ok(stamp, str(n), zeros=2))
    response = client.post(
        URL,
        {
            "variant": "bag",
            "contact_email": "zweite@example.org",
            "website": "",
            "stamp": stamp,
            "nonce": "n2",
            "proof": wrong,
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Sicherheitsprüfung Ihres Browsers ist fehlgeschlagen" in html
    assert 'value="zweite@example.org"' in html
    assert re.search(r"value=\"bag\"[^>]*checked", html)
    assert not AccessApplication.objects.exists()


def test_honeypot_refused_with_field_named(client):
    response = post(client, website="http://spam.example", email="bot@example.org")
    html = response.content.decode()
    assert response.status_code == 200
    assert "„Bitte dieses Feld leer lassen“ war ausgefüllt" in html
    assert 'value="bot@example.org"' in html
    assert not AccessApplication.objects.exists()


def test_noscript_fallback_has_a_stricter_ip_limit(client):
    assert post(client, proof=False, email="a@example.org", nonce="a").status_code == 302
    assert post(client, proof=False, email="b@example.org", nonce="b").status_code == 302
    refused = post(client, proof=False, email="c@example.org", nonce="c")
    html = refused.content.decode()
    assert refused.status_code == 200
    assert "zu viele Anträge begonnen" in html and 'value="c@example.org"' in html
    # with JavaScript the general limit still allows more starts from this address
    assert post(client, email="d@example.org", nonce="d").status_code == 302
    assert AccessApplication.objects.count() == 3


def test_ip_limit_with_proof(client):
    for i in range(4):
        assert post(client, email=f"p{i}@example.org", nonce=f"p{i}").status_code == 302
    refused = post(client, email="p9@example.org", nonce="p9")
    assert "zu viele Anträge begonnen" in refused.content.decode()
    assert AccessApplication.objects.count() == 4


def test_email_limit_is_shown_at_the_field(client):
    for i in range(3):
        response = post(client, email="Same@Example.org", nonce=f"e{i}", REMOTE_ADDR=f"10.0.0.{i}")
        assert response.status_code == 302
    refused = client.post(
        URL,
        {
            "variant": "mvz",
            "contact_email": "same@example.org",
            "website": "",
            "stamp": (stamp := new_form_stamp()),
            "nonce": "e9",
            "proof": solve(stamp, 2),
        },
        REMOTE_ADDR="10.0.0.99",
    )
    html = refused.content.decode()
    assert "Für diese E-Mail-Adresse wurden in der letzten Stunde" in html
    page = assert_errors_tied(html)
    assert page.summaries[0]["links"] == ["#id_contact_email"]
    assert ("id_contact_email", "id_contact_email_error") in page.describedby


def test_invalid_email_error_is_tied_and_summarised(client):
    html = post(client, email="keine-adresse").content.decode()
    page = assert_errors_tied(html)
    assert "#id_contact_email" in page.summaries[0]["links"]
    assert "Bitte geben Sie eine gültige E-Mail-Adresse an" in html
    assert 'value="keine-adresse"' in html


def test_draft_check_errors_have_their_ids(client):
    from tests.access.helpers import mvz_world, persons_for

    _practice, leiter, arzt = mvz_world()
    assert post(client, variant="mvz").status_code == 302
    app = AccessApplication.objects.get()
    persons = persons_for(leiter, arzt)
    persons[2]["lanr"] = "123"
    data = {
        "variant": "mvz",
        "traeger_name": "MVZ Träger GmbH",
        "practice_name": "MVZ",
        "bsnr": "12",
        "p-TOTAL_FORMS": str(len(persons)),
        "p-INITIAL_FORMS": "0",
        "action": "save",
        "acknowledge": "on",
    }
    for i, row in enumerate(persons):
        for key, value in row.items():
            if isinstance(value, bool):
                if value:
                    data[f"p-{i}-{key}"] = "on"
            else:
                data[f"p-{i}-{key}"] = value
    client.post(f"/zugang/antrag/{app.reference}/bearbeiten/", data)
    html = client.get(f"/zugang/antrag/{app.reference}/bearbeiten/?pruefen=1").content.decode()
    page = assert_errors_tied(html)
    assert "#id_bsnr" in page.summaries[0]["links"]
    assert ("id_p-2-lanr", "id_p-2-lanr_error") in page.describedby
