# eArztbrief (EBM 86900/86901, „je Empfänger-Praxis“): a client module's report counts only
# with a QES proof verified here (CMS over the digest, QES chain, registered eHBA → LANR);
# idempotent per letter (digest) and receiving practice; no letter content, no patient data.
"""Write of the practice-software path: record the QES proof a client module reports."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kvportal import audit
from kvportal.accounts.models import User
from kvportal.arztbrief import proof, selectors
from kvportal.arztbrief.models import Nachweis, Richtung
from kvportal.audit.models import Activity
from kvportal.kim import selectors as kim_selectors
from kvportal.kim.models import AccountKind

#: recipients per reported letter (one KIM message; more is refused, not truncated)
MAX_RECIPIENTS = 50
#: a KIM address as the API accepts it (the OpenAPI schema uses the same pattern)
ADDRESS_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
ADDRESS_RE = re.compile(ADDRESS_PATTERN)
LANR_RE = re.compile(r"[0-9]{9}")


class ProofRefused(Exception):
    """German refusal; ``feld`` names the field, ``status`` the HTTP status of the API."""

    def __init__(self, message: str, *, feld: str = "", status: int = 422, gruende=()):
        super().__init__(message)
        self.message, self.feld, self.status, self.gruende = message, feld, status, list(gruende)


@dataclass
class ProofOutcome:
    created: list[Nachweis]
    existing: list[Nachweis]
    signer_name: str


def _address(value, feld: str) -> str:
    text = str(value or "").strip()
    if len(text) > 254 or not ADDRESS_RE.fullmatch(text):
        raise ProofRefused(
            _("%(feld)s: „%(wert)s“ ist keine KIM-Adresse.") % {"feld": feld, "wert": text[:80]},
            feld=feld,
            status=400,
        )
    return text.lower()


def _digest(value) -> bytes:
    text = str(value or "").strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ProofRefused(
            _("digest: SHA-256 der signierten Byte-Bereiche als 64 Hex-Zeichen erwartet."),
            feld="digest",
            status=400,
        )
    return bytes.fromhex(text)


def _recipient_key(address: str) -> tuple[str, object | None]:
    """The receiving practice: the BSNR of a portal practice mailbox, else the address."""
    account = selectors.live_account(address)
    if account is not None and account.kind == AccountKind.PRACTICE and account.betriebsstaette:
        return account.betriebsstaette.bsnr, account
    return address, account


def _verify(signature: str, digest: bytes, now: dt.datetime) -> proof.ProofResult:
    from kvportal.ehba.services.trust import ImproperlyConfiguredTrust, get_trust

    try:
        der = proof.decode_signature(signature)
    except ValueError as exc:
        raise ProofRefused(str(exc), feld="signatur") from exc
    try:
        trust = get_trust()
    except ImproperlyConfiguredTrust as exc:
        raise ProofRefused(
            _("Die QES kann derzeit nicht geprüft werden (Vertrauensanker nicht eingerichtet)."),
            status=422,
        ) from exc
    result = proof.verify_proof(
        signature_der=der,
        digest=digest,
        trust_roots=trust.qes_roots,
        revocation_check=trust.revocation_check,
        now=now,
    )
    if not result.valid:
        raise ProofRefused(
            _("Die QES ist nicht gültig; der eArztbrief wird nicht gezählt."),
            feld="signatur",
            gruende=result.messages(),
        )
    return result


def _signer_person(result: proof.ProofResult):
    from kvportal.ehba.models import CardRegistration

    reg = (
        CardRegistration.objects.active()
        .filter(telematik_id=result.telematik_id)
        .select_related("person")
        .first()
        if result.telematik_id
        else None
    )
    if reg is None or not reg.person.lanr:
        raise ProofRefused(
            _(
                "Der eHBA der Signatur (%(name)s, Telematik-ID %(tid)s) ist im Portal keiner "
                "Ärztin und keinem Arzt mit LANR zugeordnet (eHBA registrieren unter eHBA)."
            )
            % {"name": result.signer_name, "tid": result.telematik_id or "–"},
            feld="signatur",
        )
    return reg.person


@transaction.atomic
def record_proof(
    *,
    actor: User,
    richtung: str,
    sender: str,
    recipients: list,
    signature: str,
    digest: str,
    receiver_lanr: str = "",
    now: dt.datetime | None = None,
) -> ProofOutcome:
    """Count one letter per receiving practice after verifying its QES proof.

    versand: ``sender`` is a practice mailbox the actor may use; the signer's registered eHBA
    gives the doctor (LANR), who works at that practice. empfang: every recipient is a practice
    mailbox of the actor; the receiving doctor (``receiver_lanr`` or the actor) works there."""
    now = now or timezone.now()
    if richtung not in Richtung.values:
        raise ProofRefused(
            _("richtung: „versand“ oder „empfang“ erwartet."), feld="richtung", status=400
        )
    sender = _address(sender, "absender")
    if not isinstance(recipients, list) or not recipients:
        raise ProofRefused(
            _("empfaenger: mindestens eine KIM-Adresse angeben."), feld="empfaenger", status=400
        )
    if len(recipients) > MAX_RECIPIENTS:
        raise ProofRefused(
            _("empfaenger: höchstens %(n)d Adressen je eArztbrief.") % {"n": MAX_RECIPIENTS},
            feld="empfaenger",
            status=400,
        )
    addresses = list(dict.fromkeys(_address(r, "empfaenger") for r in recipients))
    if sender in addresses:
        raise ProofRefused(
            _("empfaenger: der Absender kann nicht zugleich Empfänger sein."), feld="empfaenger"
        )
    raw_digest = _digest(digest)
    result = _verify(signature, raw_digest, now)
    mine = kim_selectors.mailboxes(actor)
    by_key: dict[str, list[str]] = {}
    if richtung == Richtung.VERSAND:
        account = mine.filter(address__iexact=sender, kind=AccountKind.PRACTICE).first()
        if account is None:
            raise ProofRefused(
                _("absender: „%(a)s“ ist kein KIM-Postfach einer Ihrer Praxen.") % {"a": sender},
                feld="absender",
                status=403,
            )
        practice = account.betriebsstaette
        person = _signer_person(result)
        if not selectors.works_at(person, practice):
            raise ProofRefused(
                _(
                    "Die Unterzeichnerin/der Unterzeichner (LANR %(lanr)s) ist in der "
                    "Betriebsstätte %(bsnr)s nicht tätig."
                )
                % {"lanr": person.lanr, "bsnr": practice.bsnr},
                feld="signatur",
            )
        for address in addresses:
            key, _account = _recipient_key(address)
            if key == practice.bsnr:
                raise ProofRefused(
                    _(
                        "empfaenger: „%(a)s“ gehört zur eigenen Praxis; GOP 86900 gilt nur für "
                        "Briefe an andere Praxen."
                    )
                    % {"a": address},
                    feld="empfaenger",
                )
            by_key.setdefault(key, []).append(address)
    else:
        practice = None
        for address in addresses:
            account = mine.filter(address__iexact=address, kind=AccountKind.PRACTICE).first()
            if account is None:
                raise ProofRefused(
                    _("empfaenger: „%(a)s“ ist kein KIM-Postfach einer Ihrer Praxen.")
                    % {"a": address},
                    feld="empfaenger",
                    status=403,
                )
            if practice is not None and account.betriebsstaette_id != practice.pk:
                raise ProofRefused(
                    _("empfaenger: beim Empfang nur Postfächer einer Praxis je Meldung."),
                    feld="empfaenger",
                )
            practice = account.betriebsstaette
            by_key.setdefault(practice.bsnr, []).append(address)
        person = _receiving_doctor(actor, receiver_lanr, practice)
    created, existing = [], []
    for key, keyed in by_key.items():
        row = (
            Nachweis.objects.select_for_update()
            .filter(richtung=richtung, digest=raw_digest.hex(), recipient_key=key)
            .first()
        )
        if row is not None:
            merged = list(dict.fromkeys([*row.recipient_addresses, *keyed]))
            if merged != row.recipient_addresses:
                row.recipient_addresses = merged
                row.save(update_fields=["recipient_addresses"])
            existing.append(row)
            continue
        row = Nachweis.objects.create(
            richtung=richtung,
            digest=raw_digest.hex(),
            recipient_key=key,
            recipient_addresses=keyed,
            sender_address=sender,
            person=person,
            lanr=person.lanr,
            betriebsstaette=practice,
            signer_name=result.signer_name[:200],
            signer_telematik_id=result.telematik_id,
            certificate_fingerprint=result.certificate_fingerprint,
            signing_time=result.signing_time,
            reported_by=actor,
            reported_at=now,
        )
        # the same letter already counted through the portal (web mailbox): kept, not counted
        (existing if selectors.proof_has_portal_twin(row) else created).append(row)
    audit.record(
        actor=actor,
        activity=Activity.CREATE,
        object_type="arztbrief.nachweis",
        bsnr=practice.bsnr,
        object_repr=f"eArztbrief-Nachweis {richtung}",
        detail={
            "arztbrief": "proof",
            "richtung": richtung,
            "digest": raw_digest.hex(),
            "new": len(created),
            "existing": len(existing),
            "via": "api",
        },
    )
    return ProofOutcome(created, existing, result.signer_name)


def _receiving_doctor(actor: User, receiver_lanr: str, practice):
    from kvportal.members.models import Person

    lanr = str(receiver_lanr or "").strip()
    if lanr:
        if not LANR_RE.fullmatch(lanr):
            raise ProofRefused(
                _("empfaenger_lanr: neunstellige LANR erwartet."),
                feld="empfaenger_lanr",
                status=400,
            )
        person = Person.objects.filter(lanr=lanr).first()
    else:
        person = actor.person if actor.person_id else None
        if person is None or not person.lanr:
            raise ProofRefused(
                _(
                    "empfaenger_lanr: Ihr Konto hat keine LANR; geben Sie die LANR der "
                    "empfangenden Ärztin/des empfangenden Arztes an."
                ),
                feld="empfaenger_lanr",
            )
    if person is None or not selectors.works_at(person, practice):
        raise ProofRefused(
            _("empfaenger_lanr: LANR %(lanr)s ist in der Betriebsstätte %(bsnr)s nicht tätig.")
            % {"lanr": lanr or person.lanr, "bsnr": practice.bsnr},
            feld="empfaenger_lanr",
        )
    return person
