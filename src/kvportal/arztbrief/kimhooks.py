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


def proof_of(pdf: bytes) -> tuple[str, str] | None:
    """The QES proof the portal counts: `/Contents` of the last signature (hex) and the SHA-256
    of its signed byte ranges — no content of the letter."""
    import hashlib
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        sigs = list(PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures)
        sig = sigs[-1]
        a, b, c, d = sig.byte_range
        contents = bytes(sig.sig_object.raw_get("/Contents")).hex()
    except Exception:  # unsigned or unreadable: nothing to report
        return None
    return contents, hashlib.sha256(pdf[a : a + b] + pdf[c : c + d]).hexdigest()


Reporter = Callable[[dict], None]


def portal_reporter(url: str, token: str, *, timeout: float = 20) -> Reporter:
    """POST the proof to the portal (`/api/v1/arztbrief/nachweise/`, scope „arztbrief“).
    A refusal or an unreachable portal does not stop the mail; it is written to stderr."""
    import json
    import sys
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise ValueError(f"Portal-Adresse „{url}“: http(s)://… erwartet.")

    def report(body: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url.rstrip("/") + "/api/v1/arztbrief/nachweise/",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (configured URL)
                return
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:300]
            print(f"eArztbrief-Zählung abgelehnt ({exc.code}): {text}", file=sys.stderr)
        except OSError as exc:
            print(f"eArztbrief-Zählung: Portal nicht erreichbar ({exc}).", file=sys.stderr)

    return report


def _addresses(message, *headers: str) -> list[str]:
    import email.utils

    values = [v for h in headers for v in message.get_all(h, [])]
    return [a.lower() for _n, a in email.utils.getaddresses(values) if a]


def _report(report: Reporter | None, richtung: str, message, pdfs, recipients) -> None:
    if report is None or not recipients:
        return
    sender = (_addresses(message, "From") or [""])[0]
    for pdf in pdfs:
        found = proof_of(pdf)
        if found is not None:
            contents, digest = found
            report(
                {
                    "richtung": richtung,
                    "absender": sender,
                    "empfaenger": recipients,
                    "signatur": contents,
                    "digest": digest,
                }
            )


def make_outgoing(
    signers: Mapping[str, tuple[Any, Callable[[], str]]],
    report: Reporter | None = None,
) -> Callable[[bytes, str], bytes]:
    """`signers`: sender address → (QES token of the eHBA, PIN source); `report`: where the
    QES proof of each sent letter goes (`portal_reporter`), or None."""
    from kvportal.cardlib import signing

    def outgoing(data: bytes, sender: str) -> bytes:
        message = _parse(data)
        parts = _pdf_parts(message)
        if not parts:
            raise ValueError("Der eArztbrief enthält keinen Brief als PDF-Anhang.")
        unsigned = [p for p in parts if not _is_signed(p.get_payload(decode=True) or b"")]
        recipients = _addresses(message, "To", "Cc")
        if not unsigned:
            _report(
                report, "versand", message, [p.get_payload(decode=True) for p in parts], recipients
            )
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
        pdfs = [p.get_payload(decode=True) for p in _pdf_parts(message)]
        _report(report, "versand", message, pdfs, recipients)
        return message.as_bytes()

    return outgoing


def make_incoming(
    *,
    trust_roots: Sequence[Any],
    revocation_check: Callable[..., Any] | None,
    now: Callable[[], dt.datetime] | None = None,
    report: Reporter | None = None,
    own_addresses: Sequence[str] = (),
) -> Callable[[bytes], bytes]:
    """`report`: where the proof of each letter with a valid QES goes, for the recipients
    among `own_addresses` (the practice's mailboxes)."""
    own = {a.lower() for a in own_addresses}
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
            if ok:
                mine = [a for a in _addresses(message, "To", "Cc") if a in own]
                pdfs = [p.get_payload(decode=True) or b"" for p in parts]
                _report(report, "empfang", message, pdfs, mine)
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
    report: Reporter | None = None,
    own_addresses: Sequence[str] = (),
) -> None:
    from kvportal.kim import clientmodule

    clientmodule.register_transform(
        DK_VERSAND,
        outgoing=make_outgoing({k.lower(): v for k, v in signers.items()}, report),
        incoming=make_incoming(
            trust_roots=trust_roots,
            revocation_check=revocation_check,
            report=report,
            own_addresses=own_addresses or list(signers),
        ),
    )


def from_config(path: str) -> None:
    """`kvportal kim client --transform kvportal.arztbrief.kimhooks:from_config=DATEI`.

    DATEI (JSON): {"ehba": {adresse: {"card": ID oder LANR, "card_dir": VERZ,
    "pin_file": DATEI}}, "qes_trust": [PEM-Datei oder Verzeichnis, …], optional "portal":
    {"url": URL, "token_file": DATEI} (QES proofs for the counting, scope „arztbrief“) and
    "postfaecher": [eigene Adressen]}; revocation by OCSP (address from the certificate).
    Raises ValueError with a German text naming the problem."""
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
    report = None
    portal = config.get("portal")
    if portal:
        try:
            token = Path(portal["token_file"]).read_text(encoding="utf-8").strip()
            report = portal_reporter(str(portal["url"]), token)
        except (KeyError, TypeError, OSError) as exc:
            raise ValueError(
                f"eArztbrief-Konfiguration „{path}“, portal: „url“ und lesbare „token_file“ "
                "erwartet."
            ) from exc
    register(
        signers=signers,
        trust_roots=roots,
        revocation_check=ocsp.ocsp_revocation_check,
        report=report,
        own_addresses=list(config.get("postfaecher") or signers),
    )
