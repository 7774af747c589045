# eArztbrief over the client module (KBV eArztbrief, EBM 86900): a letter handed over by the
# practice software is QES-signed with the author's eHBA before it is sealed, and its QES
# (PAdES) is verified against the qualified trust anchors on receipt. No Django.
"""Transforms for `kim/clientmodule.py` (Dienstkennung `Arztbrief;VHitG-Versand;V1.2`).

    from kvportal.arztbrief import kimhooks
    kimhooks.register(signers={"praxis@…": (qes_token, lambda: pin)}, trust_roots=[…],
                      revocation_check=…)

Outgoing: every PDF attachment without a signature is signed (one PIN.QES for all of them);
a letter without PDF or a sender without eHBA is refused. Incoming: every PDF attachment is
validated; the result goes into the header `X-KIM-Arztbrief-QES` and, as a text part
`qes-pruefbericht.txt`, the whole report for the practice software.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DK_VERSAND = "Arztbrief;VHitG-Versand;V1.2"
DK_BESTAETIGUNG = "Arztbrief;Eingangsbestaetigung;V1.2"
HEADER = "X-KIM-Arztbrief-QES"


def _parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.SMTP)


def _pdf_parts(message) -> list:
    return [
        part
        for part in message.walk()
        if not part.is_multipart() and part.get_content_type() == "application/pdf"
    ]


def _is_signed(pdf: bytes) -> bool:
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        return bool(list(PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures))
    except Exception:  # an unreadable PDF is left to the signing step's refusal
        return False


def make_outgoing(
    signers: Mapping[str, tuple[Any, Callable[[], str]]],
) -> Callable[[bytes, str], bytes]:
    """`signers`: sender address → (QES token of the eHBA, PIN source)."""
    from kvportal.cardlib import signing

    def outgoing(data: bytes, sender: str) -> bytes:
        message = _parse(data)
        parts = _pdf_parts(message)
        if not parts:
            raise ValueError("Der eArztbrief enthält keinen Brief als PDF-Anhang.")
        unsigned = [p for p in parts if not _is_signed(p.get_payload(decode=True) or b"")]
        if not unsigned:
            return data
        signer = signers.get(sender.lower())
        if signer is None:
            raise ValueError(
                f"Für {sender} ist kein eHBA zum qualifizierten Signieren eingerichtet; "
                "der eArztbrief wurde nicht gesendet."
            )
        token, pin = signer
        result = signing.sign_pdfs(
            token,
            [p.get_payload(decode=True) for p in unsigned],
            ask_pin=lambda _i: pin(),
            reason="eArztbrief",
        )
        if result.error is not None:
            raise ValueError(f"Die QES des eArztbriefs ist fehlgeschlagen: {result.error}")
        for part, signed in zip(unsigned, result.signed, strict=True):
            name = part.get_filename() or "earztbrief.pdf"
            part.set_content(signed, maintype="application", subtype="pdf", filename=name)
        return message.as_bytes()

    return outgoing


def make_incoming(
    *,
    trust_roots: Sequence[Any],
    revocation_check: Callable[..., Any] | None,
    now: Callable[[], dt.datetime] | None = None,
) -> Callable[[bytes], bytes]:
    from kvportal.cardlib import validation

    def incoming(data: bytes) -> bytes:
        message = _parse(data)
        parts = _pdf_parts(message)
        if not parts:
            verdict, texts = "ungültig; kein Brief als PDF-Anhang", ["Kein PDF-Anhang."]
        else:
            reports = [
                validation.validate_pdf_signatures(
                    p.get_payload(decode=True) or b"",
                    original=None,
                    trust_roots=trust_roots,
                    revocation_check=revocation_check,
                    now=now() if now else None,
                    required_signers=lambda _sig: True,
                )
                for p in parts
            ]
            ok = all(r.verdict == "valid" and r.signatures for r in reports)
            signers = ", ".join(s.signer_name for r in reports for s in r.signatures)
            verdict = (
                f"gültig; qualifiziert signiert von {signers}"
                if ok
                else "ungültig; " + "; ".join(_problems(r) for r in reports)
            )
            texts = [r.text_de() for r in reports]
        del message[HEADER]
        message[HEADER] = verdict
        if message.is_multipart():
            message.attach(_report_part("\n\n".join(texts)))
        return message.as_bytes()

    return incoming


def _problems(report) -> str:
    texts = [p["message"] for p in report.problems]
    texts += [p["message"] for s in report.signatures for p in s.problems]
    return ", ".join(dict.fromkeys(texts)) or report.verdict_de


def _report_part(text: str):
    from email.message import EmailMessage

    part = EmailMessage(policy=email.policy.SMTP)
    part.set_content(text, filename="qes-pruefbericht.txt", disposition="attachment")
    return part


def register(
    *,
    signers: Mapping[str, tuple[Any, Callable[[], str]]],
    trust_roots: Sequence[Any],
    revocation_check: Callable[..., Any] | None,
) -> None:
    from kvportal.kim import clientmodule

    clientmodule.register_transform(
        DK_VERSAND,
        outgoing=make_outgoing({k.lower(): v for k, v in signers.items()}),
        incoming=make_incoming(trust_roots=trust_roots, revocation_check=revocation_check),
    )


def from_config(path: str) -> None:
    """`kvportal kim client --transform kvportal.arztbrief.kimhooks:from_config=DATEI`.

    DATEI (JSON): {"ehba": {adresse: {"card": ID oder LANR, "card_dir": VERZ,
    "pin_file": DATEI}}, "qes_trust": [PEM-Datei oder Verzeichnis, …]}; revocation by OCSP
    (address from the certificate). Raises ValueError with a German text naming the problem."""
    import json
    from pathlib import Path

    from kvportal.cardlib import certs, ocsp
    from kvportal.cardlib.softcard import CardError, SoftCard

    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = config.get("ehba") or {}
        trust = config["qes_trust"]
    except (OSError, ValueError, AttributeError, KeyError) as exc:
        raise ValueError(
            f"eArztbrief-Konfiguration „{path}“: erwartet JSON mit „ehba“ und „qes_trust“."
        ) from exc
    signers = {}
    for address, entry in entries.items():
        try:
            card = SoftCard.find(str(entry["card"]), directory=entry.get("card_dir"))
            pin_file = Path(entry["pin_file"])
        except (KeyError, TypeError, OSError, ValueError, CardError) as exc:
            raise ValueError(
                f"eArztbrief-Konfiguration „{path}“, eHBA für „{address}“: Karte oder PIN-Datei "
                "fehlt oder ist unlesbar."
            ) from exc
        signers[address] = (card, lambda f=pin_file: f.read_text(encoding="utf-8").strip())
    try:
        roots = certs.load_pem_certificates(trust)
    except (OSError, ValueError) as exc:
        raise ValueError(f"eArztbrief-Konfiguration „{path}“, qes_trust: {exc}") from exc
    register(signers=signers, trust_roots=roots, revocation_check=ocsp.ocsp_revocation_check)
