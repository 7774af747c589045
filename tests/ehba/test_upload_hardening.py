"""Issue 11, eHBA uploads: damaged signature data is refused (never a 500), after the portal's
own bytes only signature revisions may follow, and signed uploads have their own size limit."""

from __future__ import annotations

import random
import re
from io import BytesIO

import pytest
from django.urls import reverse
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from kvportal.ehba.models import SignatureDocument
from tests.ehba.conftest import PIN_QES, make_pdf
from tests.ehba.test_lib_validation import ANNA, check
from tests.ehba.test_portal_signing import (  # noqa: F401 (fixtures)
    LABEL,
    cards,
    download,
    people,
    practice,
    sign,
    signable,
    trust,
    upload,
)


def flip_hex(pdf: bytes, offset: int) -> bytes:
    """Flip one hex digit of the first signature's /Contents at ``offset``."""
    match = re.search(rb"/Contents\s*<([0-9a-fA-F]+)>", pdf)
    pos = match.start(1) + offset
    digit = b"1" if pdf[pos : pos + 1] == b"0" else b"0"
    return pdf[:pos] + digit + pdf[pos + 1 :]


def unsigned_revision(pdf: bytes, payload: bytes = b"") -> bytes:
    """A harmless-looking incremental update without a signature: a new /Info entry and,
    with ``payload``, an unreferenced stream carrying it (the attacker's appended data)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    info = generic.DictionaryObject({generic.NameObject("/Title"): generic.TextStringObject("x")})
    writer.set_info(writer.add_object(info))
    if payload:
        writer.add_object(generic.StreamObject(stream_data=payload))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


# --- library ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [12, 13, 14, 20, 30])
def test_flipped_hex_digit_in_signature_header_is_a_refusal_not_an_exception(offset, new_card, pki):
    original = make_pdf()
    damaged = flip_hex(sign_pdf_(new_card(), original), offset)
    report = check(damaged, original, pki, required_signers=[ANNA])
    assert report.verdict == "invalid"
    codes = {p["code"] for p in report.problems} | {
        c for s in report.signatures for c in s.problem_codes
    }
    assert codes & {"unreadable_signature", "tampered", "not_a_pdf"}


def test_content_type_oid_flip_is_reported_as_unreadable_signature(new_card, pki):
    original = make_pdf()
    report = check(flip_hex(sign_pdf_(new_card(), original), 12), original, pki)
    assert report.problems[0]["code"] == "unreadable_signature"
    assert "beschädigt" in report.problems[0]["message"]


def test_revision_with_random_data_after_the_signature_is_refused(new_card, pki):
    original = make_pdf()
    signed = sign_pdf_(new_card(), original)
    appended = unsigned_revision(signed, random.Random(11).randbytes(512 * 1024))
    report = check(appended, original, pki, required_signers=[ANNA])
    assert report.verdict == "invalid"
    assert "unsigned_revision" in [p["code"] for p in report.problems]


def test_raw_bytes_after_the_signature_are_refused(new_card, pki):
    original = make_pdf()
    signed = sign_pdf_(new_card(), original)
    for tail in (b"\n%%EOF\n" * 2, b"% comment\n", random.Random(3).randbytes(4096)):
        report = check(signed + tail, original, pki, required_signers=[ANNA])
        assert report.verdict == "invalid", tail[:20]


def test_unsigned_incremental_revision_after_the_signature_is_refused(new_card, pki):
    original = make_pdf()
    signed = sign_pdf_(new_card(), original)
    report = check(unsigned_revision(signed), original, pki, required_signers=[ANNA])
    assert report.verdict == "invalid"
    assert "unsigned_revision" in [p["code"] for p in report.problems]


def test_unsigned_revision_between_two_signatures_is_refused(new_card, pki):
    original = make_pdf()
    bernd = new_card(
        given_name="Bernd", surname="Schulz", telematik_id="1-114000222", lanr="222222201"
    )
    first = unsigned_revision(sign_pdf_(new_card(), original))
    both = sign_pdf_(bernd, first)
    report = check(both, original, pki)
    assert "unsigned_revision" in [p["code"] for p in report.problems]
    assert report.verdict == "invalid"


def test_signature_revisions_only_stay_valid(new_card, pki):
    original = make_pdf()
    bernd = new_card(
        given_name="Bernd", surname="Schulz", telematik_id="1-114000222", lanr="222222201"
    )
    both = sign_pdf_(bernd, sign_pdf_(new_card(), original))
    report = check(both, original, pki)
    assert report.problems == [] and report.verdict == "valid"


def sign_pdf_(card, pdf: bytes) -> bytes:
    from kvportal.cardlib.signing import sign_pdf

    return sign_pdf(card, pdf, pin=PIN_QES)


# --- portal upload ----------------------------------------------------------------------------


@pytest.fixture
def anna_doc(client, practice, people, signable):  # noqa: F811
    client.force_login(people["anna"])
    client.get(reverse("ehba:sign", args=[LABEL, practice.pk]))
    return SignatureDocument.objects.get(key="antrag")


@pytest.mark.django_db
def test_upload_with_flipped_hex_digit_is_refused_in_german(client, anna_doc, cards):  # noqa: F811
    damaged = flip_hex(sign(cards["anna"], download(client, anna_doc)), 12)
    resp = upload(client, anna_doc, damaged)
    assert resp.status_code == 422
    assert "beschädigt" in resp.json()["message"]
    anna_doc.refresh_from_db()
    assert anna_doc.signature_count == 0


@pytest.mark.django_db
def test_upload_with_appended_unsigned_data_is_refused(client, anna_doc, cards):  # noqa: F811
    signed = sign(cards["anna"], download(client, anna_doc))
    payload = random.Random(5).randbytes(256 * 1024)
    for tampered in (unsigned_revision(signed, payload), unsigned_revision(signed)):
        resp = upload(client, anna_doc, tampered)
        assert resp.status_code == 422, resp.json()
        assert "dürfen nur Signaturen folgen" in resp.json()["message"]
    resp = upload(client, anna_doc, signed + payload)  # raw bytes, not even a revision
    assert resp.status_code == 422 and "nicht übernommen" in resp.json()["message"]
    anna_doc.refresh_from_db()
    assert anna_doc.signature_count == 0 and anna_doc.current_sha256 == anna_doc.original_sha256
    assert upload(client, anna_doc, signed).json()["ok"]  # the clean file is still accepted


@pytest.mark.django_db
def test_signed_upload_has_its_own_size_limit(client, anna_doc, cards, settings):  # noqa: F811
    settings.MAX_UPLOAD_MB = 200
    settings.EHBA_MAX_UPLOAD_MB = 1
    big = b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 1)
    resp = upload(client, anna_doc, big)
    assert resp.status_code == 422
    message = resp.json()["message"]
    assert "zu groß" in message and "1 MB" in message and "s.pdf" in message
