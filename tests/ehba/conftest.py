"""Fixtures for the Django-free eHBA library tests: one test PKI per session, cards per test."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from kvportal.cardlib.softcard import PinType, SoftCard
from kvportal.cardlib.testpki import TestPKI

PIN_CH = "123456"
PIN_QES = "654321"
PUK_CH = "11112222"
PUK_QES = "33334444"
TRANSPORT_CH = "000001"
TRANSPORT_QES = "000002"


def make_pdf(text: str = "Antrag auf Zulassung", *, compress: bool = False) -> bytes:
    """A small, valid one-page PDF (classic xref table) showing ``text``."""
    content = f"BT /F1 14 Tf 50 750 Td ({text}) Tj ET".encode("latin-1")
    stream_dict = b""
    if compress:
        content = zlib.compress(content)
        stream_dict = b" /Filter /FlateDecode"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d%s >>\nstream\n" % (len(content), stream_dict) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> TestPKI:
    return TestPKI.create(tmp_path_factory.mktemp("ehba") / "pki")


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory) -> TestPKI:
    return TestPKI.create(tmp_path_factory.mktemp("foreign") / "pki", name="FREMD")


@pytest.fixture
def card_dir(tmp_path) -> Path:
    return tmp_path / "ehba"


def issue(pki: TestPKI, directory: Path, **kwargs) -> tuple[SoftCard, object]:
    defaults = {
        "lanr": "123456601",
        "given_name": "Anna",
        "surname": "Müller",
        "profession": "arzt",
        "telematik_id": "1-114123456789",
        "directory": directory,
        "transport_pins": {PinType.CH: TRANSPORT_CH, PinType.QES: TRANSPORT_QES},
        "puks": {PinType.CH: PUK_CH, PinType.QES: PUK_QES},
    }
    defaults.update(kwargs)
    return SoftCard.issue(pki, **defaults)


def activate(card: SoftCard) -> SoftCard:
    card.change_pin(PinType.CH, TRANSPORT_CH, PIN_CH)
    card.change_pin(PinType.QES, TRANSPORT_QES, PIN_QES)
    return card


@pytest.fixture
def new_card(pki, card_dir):
    """Factory: ``new_card(**issue_kwargs)`` → an activated card (PINs PIN_CH / PIN_QES)."""

    def factory(*, active: bool = True, pki_: TestPKI | None = None, **kwargs) -> SoftCard:
        card, _secrets = issue(pki_ or pki, card_dir, **kwargs)
        return activate(card) if active else card

    return factory


@pytest.fixture
def card(new_card) -> SoftCard:
    return new_card()
