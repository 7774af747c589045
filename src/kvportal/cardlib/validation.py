# gemSpec_PKI TUC_PKI_030 (QES certificate check) + gemSpec_Kon 6.3 (verification report contents).
"""Validation of PAdES signatures on a portal-generated PDF.

A signature counts only if: its bytes are intact; its signed revision starts with exactly
the bytes the portal produced (``original``) and nothing but signature/form updates was
added since; after the original only signature revisions follow (every later revision is a
signed one and the file ends where the last signature's byte range ends); the signer
certificate chains to a configured trust root, is a C.HP.QES
(policy, QC statements, non-repudiation), is valid now and not revoked; and the signer is
one of the required signatories. pyHanko checks integrity and the chain; profile and
revocation are checked here (revocation through the given ``revocation_check``, e.g. OCSP).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    ModificationLevel,
    SuspiciousModification,
)
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from .certs import (
    OID_HBA_QES,
    OID_QC_COMPLIANCE,
    OID_QC_SSCD,
    OID_QCP_NATURAL_QSCD,
    RevocationResult,
    _aware,
    fingerprint,
    parse_card_certificate,
)

PROBLEMS_DE = {
    "no_signatures": "Das Dokument enthält keine elektronische Signatur.",
    "not_a_pdf": "Die Datei ist kein lesbares PDF-Dokument.",
    "tampered": "Die Signatur passt nicht zum Dokumentinhalt: das Dokument wurde nach dem "
    "Signieren verändert.",
    "bad_signature": "Die Signatur ist mathematisch ungültig.",
    "not_original": "Das signierte Dokument ist nicht das vom Portal erzeugte Dokument.",
    "modified_after": "Nach dieser Signatur wurde der Inhalt des Dokuments verändert.",
    "wrong_ca": "Das Signaturzertifikat stammt nicht von einem vertrauenswürdigen "
    "qualifizierten Vertrauensdiensteanbieter.",
    "not_qes": "Das Zertifikat ist kein qualifiziertes Signaturzertifikat eines "
    "Heilberufsausweises (C.HP.QES).",
    "expired": "Das Signaturzertifikat ist abgelaufen.",
    "not_yet_valid": "Das Signaturzertifikat ist noch nicht gültig.",
    "revoked": "Das Signaturzertifikat ist gesperrt (widerrufen).",
    "revocation_unknown": "Der Sperrstatus des Signaturzertifikats konnte nicht geprüft werden.",
    "wrong_signer": "Die Person gehört nicht zu den für dieses Dokument vorgesehenen "
    "Unterzeichnenden.",
    "unreadable_signature": "Eine Signatur im Dokument ist beschädigt und kann nicht gelesen "
    "werden (fehlerhafte Signaturdaten).",
    "unsigned_revision": "Nach dem vom Portal erzeugten Dokument dürfen nur Signaturen folgen; "
    "die Datei enthält danach weitere, nicht signierte Änderungen oder angehängte Daten.",
}

#: bytes after the last signed byte range that still count as "nothing appended" (EOL only)
_TRAILING_ALLOWED = 4

VERDICT_DE = {
    "valid": "gültig",
    "invalid": "ungültig",
    "indeterminate": "nicht abschließend prüfbar",
    "incomplete": "unvollständig (es fehlen Signaturen)",
}

# problems that make a signature indeterminate instead of invalid
_INDETERMINATE = {"revocation_unknown"}


def _norm(text: str) -> str:
    """Case, ß/ss, accents and spacing do not matter when comparing names."""
    text = unicodedata.normalize("NFKD", (text or "").casefold().replace("ß", "ss"))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


@dataclass(frozen=True)
class RequiredSigner:
    given_name: str
    surname: str
    telematik_id: str
    label: str = ""  # e.g. "Ärztlicher Leiter"

    def matches(self, report: SignatureReport) -> bool:
        """Same surname, the card's first given name among the required given names, and the
        same Telematik-ID. Without a known Telematik-ID (person has no registered card yet) the
        names alone decide; the report still shows the signer's Telematik-ID."""
        if self.telematik_id and report.telematik_id != self.telematik_id:
            return False
        if _norm(report.surname) != _norm(self.surname) or not report.surname:
            return False
        card_given = _norm(report.given_name).split()
        required_given = _norm(self.given_name).split()
        if not card_given or not required_given:
            return card_given == required_given
        return card_given[0] in required_given

    @property
    def display(self) -> str:
        who = f"{self.given_name} {self.surname} (Telematik-ID {self.telematik_id})"
        return f"{self.label}: {who}" if self.label else who


@dataclass
class SignatureReport:
    field_name: str
    signer_name: str = ""
    given_name: str = ""
    surname: str = ""
    telematik_id: str = ""
    profession: str = ""
    signing_time: str | None = None  # ISO, as reported by the signer (no timestamp: B-B)
    certificate_path: list[str] = field(default_factory=list)
    certificate_fingerprint: str = ""
    certificate_serial: str = ""
    issuer: str = ""
    not_before: str | None = None
    not_after: str | None = None
    revocation: dict[str, Any] = field(default_factory=dict)
    intact: bool = False
    covers_original: bool = False
    modified_after: bool = False
    trusted: bool = False
    qes_profile_ok: bool = False
    valid_at_check: bool = False
    matched_signer: dict[str, str] | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    verdict: str = "invalid"

    def add(self, code: str) -> None:
        if all(p["code"] != code for p in self.problems):
            self.problems.append({"code": code, "message": PROBLEMS_DE[code]})

    @property
    def problem_codes(self) -> list[str]:
        return [p["code"] for p in self.problems]

    def text_de(self) -> str:
        lines = [
            f"Signatur „{self.field_name}“: {VERDICT_DE[self.verdict]}",
            f"  Unterzeichner: {self.signer_name or 'unbekannt'}"
            + (f", Telematik-ID {self.telematik_id}" if self.telematik_id else ""),
        ]
        if self.signing_time:
            lines.append(f"  Signaturzeitpunkt (Angabe des Unterzeichners): {self.signing_time}")
        if self.certificate_path:
            lines.append("  Zertifikatspfad: " + " → ".join(self.certificate_path))
        if self.revocation:
            status = {"good": "nicht gesperrt", "revoked": "gesperrt", "unknown": "unbekannt"}.get(
                self.revocation.get("status", ""), "nicht geprüft"
            )
            lines.append(f"  Sperrstatus: {status} ({self.revocation.get('source', '')})")
        for p in self.problems:
            lines.append(f"  – {p['message']}")
        return "\n".join(lines)


@dataclass
class VerificationReport:
    signatures: list[SignatureReport]
    missing_signers: list[RequiredSigner]
    verdict: str  # valid | incomplete | invalid | indeterminate
    checked_at: str
    problems: list[dict[str, str]] = field(default_factory=list)  # document-level

    @property
    def complete(self) -> bool:
        return self.verdict == "valid"

    @property
    def valid_signatures(self) -> list[SignatureReport]:
        return [s for s in self.signatures if s.verdict == "valid"]

    @property
    def verdict_de(self) -> str:
        return VERDICT_DE[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "verdict_de": self.verdict_de,
            "checked_at": self.checked_at,
            "problems": list(self.problems),
            "signatures": [asdict(s) for s in self.signatures],
            "missing_signers": [asdict(m) for m in self.missing_signers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerificationReport:
        return cls(
            signatures=[SignatureReport(**s) for s in data.get("signatures", [])],
            missing_signers=[RequiredSigner(**m) for m in data.get("missing_signers", [])],
            verdict=data["verdict"],
            checked_at=data["checked_at"],
            problems=list(data.get("problems", [])),
        )

    def text_de(self) -> str:
        lines = [f"Prüfergebnis: {self.verdict_de} (geprüft am {self.checked_at})"]
        lines += [f"– {p['message']}" for p in self.problems]
        for s in self.signatures:
            lines.append(s.text_de())
        if self.missing_signers:
            lines.append("Es fehlen Signaturen von:")
            lines += [f"  – {m.display}" for m in self.missing_signers]
        return "\n".join(lines)


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _to_crypto(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _short_name(cert: asn1_x509.Certificate) -> str:
    native = cert.subject.native
    return native.get("common_name") or cert.subject.human_friendly


def _qes_profile_ok(profile) -> bool:
    return (
        OID_HBA_QES in profile.policies
        and OID_QCP_NATURAL_QSCD in profile.policies
        and OID_QC_COMPLIANCE in profile.qc_statements
        and OID_QC_SSCD in profile.qc_statements
        and "content_commitment" in profile.key_usage
        and profile.profession is not None
    )


def _original_ok(reader: PdfFileReader, pdf: bytes, original: bytes, byte_range) -> bool:
    """The signed revision starts with ``original`` and everything added between the original
    and now is at most signature/form-filling."""
    if not pdf.startswith(original):
        return False
    if len(byte_range) != 4 or byte_range[0] != 0 or byte_range[1] < len(original):
        return False
    try:
        orig_reader = PdfFileReader(BytesIO(original), strict=False)
        base = orig_reader.xrefs.total_revisions - 1
        if "/AcroForm" in orig_reader.root:
            result = DEFAULT_DIFF_POLICY.review_file(reader, base)
        else:
            # pyHanko's diff policy needs an /AcroForm in the base revision (use
            # signing.prepare_pdf); otherwise compare the pages of the first revision after
            # the original ourselves and review the rest with pyHanko.
            if base + 1 >= reader.xrefs.total_revisions:
                return False
            if not _pages_unchanged(
                orig_reader.root, reader.get_historical_resolver(base + 1).root
            ):
                return False
            result = DEFAULT_DIFF_POLICY.review_file(reader, base + 1)
    except (PdfError, ValueError, KeyError, SuspiciousModification):
        return False
    if isinstance(result, SuspiciousModification):
        return False
    return result.modification_level <= ModificationLevel.FORM_FILLING


def _page_list(root) -> list:
    pages = []

    def walk(node) -> None:
        node = node.get_object()
        if node.get("/Type") == "/Pages":
            for kid in node["/Kids"]:
                walk(kid)
        else:
            pages.append(node)

    walk(root["/Pages"])
    return pages


def _page_fingerprint(page) -> tuple:
    contents = page.get("/Contents")
    data = b""
    if contents is not None:
        contents = contents.get_object()
        streams = contents if isinstance(contents, list) else [contents]
        data = b"".join(st.get_object().data for st in streams)
    resources = page.get("/Resources")
    return (data, repr(page.get("/MediaBox")), repr(resources.get_object() if resources else None))


def _pages_unchanged(old_root, new_root) -> bool:
    """Same page count, content streams, media boxes and resources; the catalog may only
    gain signature-related entries (and the pages only /Annots for signature widgets)."""
    # keys a signing tool may add or update in the catalog
    benign = {"/AcroForm", "/Perms", "/DSS", "/Extensions", "/Version", "/Metadata"}
    old_keys = set(old_root.keys()) - benign
    new_keys = set(new_root.keys()) - benign
    if old_keys != new_keys:
        return False
    for key in old_keys:
        if key != "/Pages" and repr(old_root[key]) != repr(new_root[key]):
            return False
    old_pages, new_pages = _page_list(old_root), _page_list(new_root)
    if len(old_pages) != len(new_pages):
        return False
    for old, new in zip(old_pages, new_pages, strict=True):
        if _page_fingerprint(old) != _page_fingerprint(new):
            return False
        for annot in new.get("/Annots", []) or []:
            annot = annot.get_object()
            is_sig_widget = annot.get("/Subtype") == "/Widget" and annot.get("/FT") == "/Sig"
            old_annots = [a.get_object() for a in old.get("/Annots", []) or []]
            if not is_sig_widget and annot not in old_annots:
                return False
    return True


def _only_signatures_follow(reader: PdfFileReader, pdf: bytes, original: bytes, embedded) -> bool:
    """Every revision after the portal's original is a signed revision, and nothing but an
    end-of-line follows the last signature's byte range."""
    try:
        orig_revisions = PdfFileReader(BytesIO(original), strict=False).xrefs.total_revisions
        total = reader.xrefs.total_revisions
        signed = {sig.signed_revision for sig in embedded}
        end = max(sig.byte_range[2] + sig.byte_range[3] for sig in embedded)
    except Exception:
        return False
    if any(rev not in signed for rev in range(orig_revisions, total)):
        return False
    trailing = pdf[end:]
    return len(trailing) <= _TRAILING_ALLOWED and not trailing.strip(b"\r\n")


def offline_context(roots: list, now: dt.datetime) -> ValidationContext:
    """The validation context of every signature check: the given trust anchors only, nothing
    fetched from the network (the portal runs offline; revocation is checked separately, so
    pyHanko soft-fails), everything judged at `now`."""
    return ValidationContext(
        trust_roots=roots,
        allow_fetching=False,
        revocation_mode="soft-fail",
        moment=now,
        best_signature_time=now,
    )


def _check_signature(
    rep: SignatureReport,
    sig,
    *,
    reader: PdfFileReader,
    pdf: bytes,
    original: bytes | None,
    roots: list,
    revocation_check,
    now: dt.datetime,
    required_signers,
) -> None:
    vc = offline_context(roots, now)
    try:
        status = validate_pdf_signature(sig, signer_validation_context=vc)
    except Exception:
        rep.add("tampered")
        rep.verdict = "invalid"
        return
    cert = _to_crypto(status.signing_cert)
    profile = parse_card_certificate(cert)
    rep.given_name, rep.surname = profile.given_name, profile.surname
    rep.signer_name = f"{profile.given_name} {profile.surname}".strip() or profile.common_name
    rep.telematik_id = profile.telematik_id or ""
    rep.profession = str(profile.profession or "")
    rep.certificate_fingerprint = fingerprint(cert)
    rep.certificate_serial = profile.serial_number
    rep.issuer = profile.issuer_cn
    rep.not_before = profile.not_before.isoformat()
    rep.not_after = profile.not_after.isoformat()
    if status.signer_reported_dt:
        rep.signing_time = status.signer_reported_dt.isoformat()
    rep.intact = bool(status.intact)
    if not status.intact:
        rep.add("tampered")
    elif not status.valid:
        rep.add("bad_signature")
    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        rep.add("tampered")
    level = status.modification_level
    rep.modified_after = level is None or level > ModificationLevel.FORM_FILLING
    if rep.modified_after:
        rep.add("modified_after")
    if original is not None:
        rep.covers_original = rep.intact and _original_ok(reader, pdf, original, sig.byte_range)
        if not rep.covers_original:
            rep.add("not_original")
    else:
        rep.covers_original = rep.intact
    # chain
    path = status.validation_path
    issuer_cert = None
    if path is not None:
        path_certs = list(path.iter_certs(include_root=True))
        rep.certificate_path = [_short_name(c) for c in path_certs]
        issuer_cert = next(
            (_to_crypto(c) for c in path_certs if c.subject == status.signing_cert.issuer),
            None,
        )
    rep.trusted = bool(status.trusted)
    if now > profile.not_after:
        rep.add("expired")
    elif now < profile.not_before:
        rep.add("not_yet_valid")
    elif path is None or not status.trusted:
        rep.add("wrong_ca")
    rep.valid_at_check = profile.not_before <= now <= profile.not_after
    rep.qes_profile_ok = _qes_profile_ok(profile)
    if not rep.qes_profile_ok:
        rep.add("not_qes")
    # revocation
    if revocation_check is None or issuer_cert is None:
        rep.revocation = {
            "status": "not_checked",
            "revoked_at": None,
            "source": "nicht geprüft",
        }
        if revocation_check is None:
            rep.add("revocation_unknown")
    else:
        rev = RevocationResult.coerce(revocation_check(cert, issuer_cert))
        rep.revocation = rev.to_dict()
        if rev.status == "revoked":
            rep.add("revoked")
        elif rev.status != "good":
            rep.add("revocation_unknown")
    # signer
    if callable(required_signers):
        allowed = required_signers(rep)
    else:
        match = next((r for r in required_signers if r.matches(rep)), None)
        allowed = match is not None or not required_signers
        if match is not None:
            rep.matched_signer = asdict(match)
    if not allowed:
        rep.add("wrong_signer")
    codes = set(rep.problem_codes)
    if not codes:
        rep.verdict = "valid"
    elif codes <= _INDETERMINATE:
        rep.verdict = "indeterminate"
    else:
        rep.verdict = "invalid"


def validate_pdf_signatures(
    pdf: bytes,
    *,
    original: bytes | None,
    trust_roots: Sequence[x509.Certificate],
    revocation_check: Callable[[x509.Certificate, x509.Certificate], RevocationResult | str] | None,
    now: dt.datetime | None = None,
    required_signers: Sequence[RequiredSigner] | Callable[[SignatureReport], bool] = (),
) -> VerificationReport:
    """Validate every signature in ``pdf``; see the module docstring for the rules.

    ``required_signers``: the signatories (all must have a valid signature) or a predicate
    deciding whether a signer is allowed (then nobody is reported missing).
    ``revocation_check=None`` → revocation not checked → verdict at best "indeterminate".
    """
    now = _aware(now)
    report = VerificationReport(
        signatures=[], missing_signers=[], verdict="invalid", checked_at=now.isoformat()
    )
    missing_all = list(required_signers) if not callable(required_signers) else []
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
    except Exception:  # any parser error of pyHanko is a refusal, never a crash
        report.problems.append({"code": "not_a_pdf", "message": PROBLEMS_DE["not_a_pdf"]})
        report.missing_signers = missing_all
        return report
    try:
        embedded = list(reader.embedded_signatures)
    except (PdfError, ValueError, KeyError):
        report.problems.append({"code": "not_a_pdf", "message": PROBLEMS_DE["not_a_pdf"]})
        report.missing_signers = missing_all
        return report
    except Exception:  # e.g. TypeError on a damaged /Contents (CMS structure unreadable)
        code = "unreadable_signature"
        report.problems.append({"code": code, "message": PROBLEMS_DE[code]})
        report.missing_signers = missing_all
        return report
    if not embedded:
        report.problems.append({"code": "no_signatures", "message": PROBLEMS_DE["no_signatures"]})
    elif original is not None and not _only_signatures_follow(reader, pdf, original, embedded):
        code = "unsigned_revision"
        report.problems.append({"code": code, "message": PROBLEMS_DE[code]})

    roots = [_to_asn1(c) for c in trust_roots]
    for sig in embedded:
        rep = SignatureReport(field_name=sig.field_name or "")
        report.signatures.append(rep)
        try:
            _check_signature(
                rep,
                sig,
                reader=reader,
                pdf=pdf,
                original=original,
                roots=roots,
                revocation_check=revocation_check,
                now=now,
                required_signers=required_signers,
            )
        except Exception:
            # damaged signature data (e.g. a flipped hex digit in /Contents) that pyHanko,
            # asn1crypto or cryptography cannot parse: refuse, never answer 500
            rep.add("unreadable_signature")
            rep.verdict = "invalid"

    # overall
    if not callable(required_signers):
        report.missing_signers = [
            r
            for r in required_signers
            if not any(
                s.verdict == "valid" and s.matched_signer == asdict(r) for s in report.signatures
            )
        ]
    verdicts = {s.verdict for s in report.signatures}
    # a signature of a non-required person alone does not spoil the document
    spoiling = {
        s.verdict
        for s in report.signatures
        if not (s.verdict == "invalid" and set(s.problem_codes) == {"wrong_signer"})
    }
    if report.problems or not report.signatures or "invalid" in spoiling:
        report.verdict = "invalid"
    elif "indeterminate" in verdicts:
        report.verdict = "indeterminate"
    elif report.missing_signers:
        report.verdict = "incomplete"
    else:
        report.verdict = "valid"
    return report
