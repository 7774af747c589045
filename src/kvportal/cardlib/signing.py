# gemSpec_Kon TUC_KON_154/155: batch QES, one PIN.QES per part of at most SSEC; PAdES.
"""PAdES signing of PDFs with a QES token (software eHBA or PKCS#11 token).

Each signature is an incremental update with a new signature field, so several signers
can sign the same PDF in any order. A batch is split into parts of ``token.batch_size``
documents; ``ask_pin(part_index)`` is called once per part. When something fails, the
documents of the parts completed before stay signed (TAB_KON_192: earlier sub-batches are
kept), the failed part is discarded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Protocol

from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import Signer

from .certs import parse_card_certificate
from .softcard import CardError


class QesSessionLike(AbstractContextManager, Protocol):
    limit: int

    def pyhanko_signer(self) -> Signer: ...

    def close(self) -> None: ...


class QesToken(Protocol):
    """What :func:`sign_pdfs` needs: :class:`~kvportal.cardlib.softcard.SoftCard` and
    :class:`~kvportal.cardlib.pkcs11.Pkcs11Token` implement it."""

    @property
    def batch_size(self) -> int: ...

    @property
    def qes_certificate(self) -> x509.Certificate: ...

    def open_qes_session(self, pin: str) -> QesSessionLike: ...


class SigningError(Exception):
    def __init__(self, code: str, message_de: str):
        super().__init__(message_de)
        self.code = code
        self.message_de = message_de

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message_de}


class PinEntryCancelled(SigningError):
    def __init__(self, message_de: str = "Die PIN-Eingabe wurde abgebrochen."):
        super().__init__("pin_cancelled", message_de)


@dataclass
class BatchResult:
    signed: list[bytes] = field(default_factory=list)
    failed_at: int | None = None
    error: Exception | None = None
    parts: int = 0
    total: int = 0

    @property
    def ok(self) -> bool:
        return self.failed_at is None

    @property
    def error_code(self) -> str | None:
        if self.error is None:
            return None
        return getattr(self.error, "code", "signing_error")

    @property
    def error_message_de(self) -> str | None:
        if self.error is None:
            return None
        return (
            getattr(self.error, "message_de", None) or "Beim Signieren ist ein Fehler aufgetreten."
        )


def split_parts(count: int, size: int) -> list[range]:
    """Index ranges of the parts a batch of ``count`` documents is split into."""
    if size < 1:
        raise ValueError("Die Stapelgröße muss mindestens 1 sein.")
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def next_field_name(pdf: bytes, prefix: str) -> str:
    """``<prefix>-<n>`` with the smallest n not used by an existing field."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        existing = {name for name, _value, _ref in fields.enumerate_sig_fields(reader)}
    except (PdfError, ValueError, KeyError) as exc:
        raise SigningError("not_a_pdf", "Die Datei ist kein lesbares PDF-Dokument.") from exc
    n = 1
    while f"{prefix}-{n}" in existing:
        n += 1
    return f"{prefix}-{n}"


def _sign_one(
    signer: Signer,
    pdf: bytes,
    *,
    field_name_prefix: str,
    reason: str | None,
    location: str | None,
    signer_name: str,
) -> bytes:
    if not pdf.startswith(b"%PDF-"):
        raise SigningError("not_a_pdf", "Die Datei ist kein PDF-Dokument.")
    name = next_field_name(pdf, field_name_prefix)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=location,
            name=signer_name,
        )
        out = signers.PdfSigner(meta, signer=signer).sign_pdf(writer, in_place=False)
    except CardError:
        raise
    except (PdfError, ValueError, KeyError) as exc:
        raise SigningError(
            "not_a_pdf", f"Das PDF-Dokument konnte nicht signiert werden: {exc}"
        ) from exc
    return out.getvalue()


def sign_pdfs(
    token: QesToken,
    pdfs: Sequence[bytes],
    *,
    ask_pin: Callable[[int], str],
    field_name_prefix: str = "Signatur",
    reason: str | None = None,
    location: str | None = None,
    now: dt.datetime | None = None,
) -> BatchResult:
    """Sign every PDF with the QES key; one ``ask_pin(part_index)`` per part of
    ``token.batch_size`` documents. Never raises for card/PDF errors: see ``BatchResult``."""
    parts = split_parts(len(pdfs), token.batch_size)
    result = BatchResult(parts=len(parts), total=len(pdfs))
    profile = parse_card_certificate(token.qes_certificate)
    signer_name = f"{profile.given_name} {profile.surname}".strip() or profile.common_name
    for part_index, indices in enumerate(parts):
        part_out: list[bytes] = []
        try:
            pin = ask_pin(part_index)
            if pin is None:
                raise PinEntryCancelled()
            open_kwargs = {"now": now} if now is not None else {}
            with token.open_qes_session(pin, **open_kwargs) as session:
                signer = session.pyhanko_signer()
                for i in indices:
                    part_out.append(
                        _sign_one(
                            signer,
                            pdfs[i],
                            field_name_prefix=field_name_prefix,
                            reason=reason,
                            location=location,
                            signer_name=signer_name,
                        )
                    )
        except (CardError, SigningError) as exc:
            result.failed_at = indices.start
            result.error = exc
            return result
        except Exception as exc:
            result.failed_at = indices.start
            result.error = SigningError(
                "signing_failed",
                f"Das Signieren ist fehlgeschlagen ({type(exc).__name__}). Bereits signierte "
                "Teilstapel bleiben erhalten.",
            )
            result.error.__cause__ = exc
            return result
        result.signed.extend(part_out)
    return result


def sign_pdf(token: QesToken, pdf: bytes, *, pin: str, **kwargs) -> bytes:
    """One document, one PIN entry; raises the card/signing error."""
    result = sign_pdfs(token, [pdf], ask_pin=lambda _i: pin, **kwargs)
    if result.error is not None:
        raise result.error
    return result.signed[0]
