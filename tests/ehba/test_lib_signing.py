"""PAdES batch signing: splitting into parts, one PIN per part, mid-batch failures,
several signers in any order."""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from kvportal.cardlib.signing import (
    PinEntryCancelled,
    SigningError,
    sign_pdf,
    sign_pdfs,
    split_parts,
)
from kvportal.cardlib.softcard import PinType, WrongPin
from tests.ehba.conftest import PIN_QES, make_pdf


def sig_fields(pdf: bytes) -> list[str]:
    return [s.field_name for s in PdfFileReader(BytesIO(pdf)).embedded_signatures]


def signer_names(pdf: bytes) -> list[str]:
    out = []
    for s in PdfFileReader(BytesIO(pdf)).embedded_signatures:
        out.append(s.signer_cert.subject.native["common_name"])
    return out


def test_split_parts():
    assert [len(p) for p in split_parts(600, 254)] == [254, 254, 92]
    assert [len(p) for p in split_parts(254, 254)] == [254]
    assert [len(p) for p in split_parts(255, 254)] == [254, 1]
    assert split_parts(0, 254) == []
    with pytest.raises(ValueError):
        split_parts(3, 0)


def test_batch_is_split_with_one_pin_entry_per_part(new_card):
    card = new_card(batch_size=2)
    pdfs = [make_pdf(f"Dokument {i}") for i in range(5)]
    asked = []

    def ask(i):
        asked.append(i)
        return PIN_QES

    result = sign_pdfs(card, pdfs, ask_pin=ask, reason="Antrag")
    assert result.ok and result.error is None and result.failed_at is None
    assert asked == [0, 1, 2]
    assert result.parts == 3
    assert len(result.signed) == 5
    for original, signed in zip(pdfs, result.signed, strict=True):
        assert signed.startswith(original)
        assert sig_fields(signed) == ["Signatur-1"]


def test_wrong_pin_in_second_part_keeps_the_first_part(new_card):
    card = new_card(batch_size=2)
    pdfs = [make_pdf(f"Dokument {i}") for i in range(5)]
    result = sign_pdfs(card, pdfs, ask_pin=lambda i: PIN_QES if i == 0 else "000000")
    assert not result.ok
    assert result.failed_at == 2
    assert isinstance(result.error, WrongPin)
    assert result.error_code == "wrong_pin"
    assert len(result.signed) == 2
    assert all(s.startswith(p) for s, p in zip(result.signed, pdfs, strict=False))
    assert card.status().pins[PinType.QES].remaining_tries == 2


def test_broken_document_discards_its_part_only(new_card):
    card = new_card(batch_size=2)
    pdfs = [make_pdf("a"), make_pdf("b"), make_pdf("c"), b"kein PDF", make_pdf("e")]
    result = sign_pdfs(card, pdfs, ask_pin=lambda i: PIN_QES)
    assert result.failed_at == 2
    assert isinstance(result.error, SigningError)
    assert result.error.code == "not_a_pdf"
    assert len(result.signed) == 2


def test_cancelled_pin_entry(new_card):
    card = new_card(batch_size=1)

    def ask(i):
        if i == 1:
            raise PinEntryCancelled()
        return PIN_QES

    result = sign_pdfs(card, [make_pdf("a"), make_pdf("b")], ask_pin=ask)
    assert result.failed_at == 1 and result.error_code == "pin_cancelled"
    assert len(result.signed) == 1
    result = sign_pdfs(card, [make_pdf("a")], ask_pin=lambda i: None)
    assert result.failed_at == 0 and result.error_code == "pin_cancelled"


def test_card_refusing_mid_batch_keeps_earlier_parts(new_card, pki):
    card = new_card(batch_size=1)

    def ask(i):
        if i == 1:
            card.revoke(pki)  # e.g. revoked while the user works through the batch
        return PIN_QES

    result = sign_pdfs(card, [make_pdf("a"), make_pdf("b"), make_pdf("c")], ask_pin=ask)
    assert result.failed_at == 1
    assert result.error_code == "card_revoked"
    assert len(result.signed) == 1


def test_two_signers_in_any_order(new_card):
    a = new_card(given_name="Anna", surname="Müller", lanr="111111101")
    b = new_card(given_name="Bernd", surname="Schulz", lanr="222222201", algorithm="rsa")
    pdf = make_pdf()
    ab = sign_pdf(b, sign_pdf(a, pdf, pin=PIN_QES), pin=PIN_QES)
    ba = sign_pdf(a, sign_pdf(b, pdf, pin=PIN_QES), pin=PIN_QES)
    assert sig_fields(ab) == ["Signatur-1", "Signatur-2"]
    assert signer_names(ab) == ["Anna Müller", "Bernd Schulz"]
    assert signer_names(ba) == ["Bernd Schulz", "Anna Müller"]
    assert ab.startswith(pdf) and ba.startswith(pdf)


def test_sign_pdf_raises_card_error(card):
    with pytest.raises(WrongPin):
        sign_pdf(card, make_pdf(), pin="000000")


def test_field_prefix_and_reason(card):
    signed = sign_pdf(card, make_pdf(), pin=PIN_QES, field_name_prefix="Traeger", reason="Antrag")
    sig = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    assert sig.field_name == "Traeger-1"
    assert sig.sig_object["/Reason"] == "Antrag"
