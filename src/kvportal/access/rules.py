# Seed 000: Träger and ÄL sign, employed doctors sign their rows, the ÄL always gets billing.
# Arztregister results are not public: applicants only see neutral wording (security finding 8).
"""Pure rules of the access application (no Django).

The application is modelled as a header (variant, practice name, BSNR, Träger) and a list of
persons. Every person named on the application has a role:

* MVZ: one ``TRAEGER`` (the Geschäftsführer who signs for the Träger), one ``LEITER``
  (Ärztlicher Leiter) and any number of ``ARZT`` (employed doctors);
* BAG: at least two ``PARTNER`` and any number of ``ARZT``;
* Einzelpraxis: exactly one ``INHABER`` and any number of ``ARZT``.

Persons with ``listed=True`` are the rows of the Zusatzblatt: they receive their own account
with the rights ticked. Employed doctors are always listed; the Ärztlicher Leiter is always
listed and always receives the billing right (seed 000, Erläuterungen).

Every person named on the application must confirm it (the online counterpart of the
signatures on the paper form). A confirmation is bound to the fingerprint of the content it
confirmed: any later change of the content makes earlier confirmations void.

Registry look-ups (Arztregister) are passed in as a :class:`Registry` so the rules stay pure.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kvportal.members.identifiers import PSEUDO_LANR_PREFIXES, check_bsnr, check_lanr


class Variant(enum.StrEnum):
    MVZ = "mvz"
    BAG = "bag"
    EINZELPRAXIS = "einzelpraxis"


VARIANT_LABELS: dict[Variant, str] = {
    Variant.MVZ: "Medizinisches Versorgungszentrum (MVZ)",
    Variant.BAG: "Berufsausübungsgemeinschaft (BAG)",
    Variant.EINZELPRAXIS: "Einzelpraxis",
}


class Role(enum.StrEnum):
    TRAEGER = "traeger"
    LEITER = "leiter"
    PARTNER = "partner"
    INHABER = "inhaber"
    ARZT = "arzt"


ROLE_LABELS: dict[Role, str] = {
    Role.TRAEGER: "Träger (Geschäftsführer)",
    Role.LEITER: "Ärztlicher Leiter",
    Role.PARTNER: "Partner der BAG",
    Role.INHABER: "Praxisinhaber",
    Role.ARZT: "Angestellter Arzt / Psychotherapeut",
}

#: Roles that are doctors/psychotherapists and therefore need a LANR.
DOCTOR_ROLES = frozenset({Role.LEITER, Role.PARTNER, Role.INHABER, Role.ARZT})

#: Roles allowed per variant.
VARIANT_ROLES: dict[Variant, frozenset[Role]] = {
    Variant.MVZ: frozenset({Role.TRAEGER, Role.LEITER, Role.ARZT}),
    Variant.BAG: frozenset({Role.PARTNER, Role.ARZT}),
    Variant.EINZELPRAXIS: frozenset({Role.INHABER, Role.ARZT}),
}


class Right(enum.StrEnum):
    """The three rights of the Zusatzblatt (values equal ``kvportal.accounts.constants.Right``)."""

    BILLING = "billing"
    DOCS_BSNR = "docs_bsnr"
    DOCS_LANR = "docs_lanr"


RIGHT_LABELS: dict[Right, str] = {
    Right.BILLING: "Abgabe der Abrechnung",
    Right.DOCS_BSNR: "Alle Dokumente der BSNR (mit Honorarbescheid)",
    Right.DOCS_LANR: "Nur arztbezogene Dokumente",
}


class Level(enum.StrEnum):
    ERROR = "error"  # the application cannot be submitted
    FLAG = "flag"  # accepted, but shown to the applicant and flagged for the Arztregister staff


@dataclass(frozen=True)
class Finding:
    """One check result: ``field`` names the form field (``bsnr``, ``persons.2.lanr`` …)."""

    field: str
    message: str
    level: Level = Level.ERROR
    #: the finding depends on what the Arztregister holds: for the staff only, never shown to
    #: applicants (see :func:`for_applicant`)
    registry: bool = False


@dataclass(frozen=True)
class Person:
    role: Role
    last_name: str
    first_name: str
    email: str = ""
    lanr: str = ""
    listed: bool = True
    rights: frozenset[Right] = frozenset()

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}".strip(", ")


@dataclass(frozen=True)
class ApplicationData:
    variant: Variant
    practice_name: str
    bsnr: str
    persons: tuple[Person, ...] = ()
    traeger_name: str = ""  # legal entity of the MVZ (e.g. "MVZ Muster GmbH")


class LanrStatus(enum.StrEnum):
    UNKNOWN = "unknown"  # LANR not in the Arztregister
    INACTIVE = "inactive"  # known, but no active Tätigkeit at this BSNR
    ACTIVE = "active"  # active Tätigkeit at this BSNR


class Registry(Protocol):
    """What the rules need from the Arztregister (``kvportal.members``)."""

    def bsnr_known(self, bsnr: str) -> bool: ...

    def lanr_status(self, lanr: str, bsnr: str) -> LanrStatus: ...


# --- helpers -----------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def normalize_name(value: str) -> str:
    """Case-, accent- and whitespace-insensitive form of a name, used for "no person twice"."""
    text = unicodedata.normalize("NFKC", value).casefold()
    text = text.replace("ß", "ss")
    return " ".join(text.split())


def person_key(person: Person) -> str:
    """Identity of a person within one application: the LANR, else the normalised name."""
    if person.lanr:
        return f"lanr:{person.lanr}"
    return f"name:{normalize_name(person.last_name)}|{normalize_name(person.first_name)}"


def effective_rights(person: Person) -> frozenset[Right]:
    """Rights the person actually receives: the Ärztlicher Leiter always gets the billing right."""
    if person.role is Role.LEITER:
        return frozenset(person.rights) | {Right.BILLING}
    return frozenset(person.rights)


def is_listed(person: Person) -> bool:
    """Employed doctors and the Ärztlicher Leiter always get an account; others when ticked."""
    return person.listed or person.role in (Role.ARZT, Role.LEITER)


def accounts_to_create(data: ApplicationData) -> list[tuple[Person, frozenset[Right]]]:
    """The Zusatzblatt as it will be applied on approval: person and effective rights."""
    return [(p, effective_rights(p)) for p in data.persons if is_listed(p)]


# --- checks ------------------------------------------------------------------------------------


def _count(data: ApplicationData, role: Role) -> int:
    return sum(1 for p in data.persons if p.role is role)


def check_header(data: ApplicationData) -> list[Finding]:
    findings: list[Finding] = []
    if not data.practice_name.strip():
        label = "Namen des MVZ" if data.variant is Variant.MVZ else "Namen der Praxis"
        findings.append(Finding("practice_name", f"Bitte geben Sie den {label} an."))
    if not data.bsnr.strip():
        findings.append(Finding("bsnr", "Bitte geben Sie die Betriebsstättennummer (BSNR) an."))
    else:
        result = check_bsnr(data.bsnr.strip(), own_kv_only=True)
        findings.extend(Finding("bsnr", msg) for msg in result.errors)
    if data.variant is Variant.MVZ and not data.traeger_name.strip():
        findings.append(
            Finding("traeger_name", "Bitte geben Sie den Träger des MVZ an (z. B. die GmbH).")
        )
    return findings


def check_roles(data: ApplicationData) -> list[Finding]:
    """Which persons each variant needs (the signatories of the paper form)."""
    findings: list[Finding] = []
    allowed = VARIANT_ROLES[data.variant]
    for index, person in enumerate(data.persons):
        if person.role not in allowed:
            findings.append(
                Finding(
                    f"persons.{index}.role",
                    f"Die Rolle „{ROLE_LABELS[person.role]}“ gibt es bei "
                    f"{VARIANT_LABELS[data.variant]} nicht.",
                )
            )
    if data.variant is Variant.MVZ:
        for role, label in (
            (Role.TRAEGER, "Träger (Geschäftsführer)"),
            (Role.LEITER, "Ärztlichen Leiter"),
        ):
            count = _count(data, role)
            if count == 0:
                findings.append(Finding("persons", f"Bitte geben Sie den {label} an."))
            elif count > 1:
                findings.append(Finding("persons", f"Es darf nur einen {label} geben."))
    elif data.variant is Variant.BAG:
        if _count(data, Role.PARTNER) < 2:
            findings.append(
                Finding(
                    "persons", "Eine BAG hat mindestens zwei Partner; bitte alle Partner angeben."
                )
            )
    elif data.variant is Variant.EINZELPRAXIS:
        count = _count(data, Role.INHABER)
        if count != 1:
            findings.append(
                Finding("persons", "Bitte geben Sie genau einen Praxisinhaber (Arzt) an.")
            )
    if data.persons and not any(is_listed(p) for p in data.persons):
        findings.append(
            Finding("persons", "Bitte beantragen Sie für mindestens eine Person einen Zugang.")
        )
    return findings


def check_person(index: int, person: Person) -> list[Finding]:
    prefix = f"persons.{index}"
    who = person.display_name or f"Person {index + 1}"
    findings: list[Finding] = []
    if not person.last_name.strip():
        findings.append(
            Finding(f"{prefix}.last_name", f"Person {index + 1}: Bitte den Nachnamen angeben.")
        )
    if not person.first_name.strip():
        findings.append(
            Finding(f"{prefix}.first_name", f"Person {index + 1}: Bitte den Vornamen angeben.")
        )
    if not person.email.strip():
        findings.append(
            Finding(
                f"{prefix}.email",
                f"{who}: Bitte eine E-Mail-Adresse angeben (für die Bestätigung des Antrags).",
            )
        )
    elif not EMAIL_RE.match(person.email.strip()):
        findings.append(
            Finding(f"{prefix}.email", f"{who}: „{person.email}“ ist keine gültige E-Mail-Adresse.")
        )
    lanr = person.lanr.strip()
    if person.role in DOCTOR_ROLES and not lanr:
        findings.append(Finding(f"{prefix}.lanr", f"{who}: Bitte die LANR angeben."))
    if lanr:
        result = check_lanr(lanr)
        findings.extend(Finding(f"{prefix}.lanr", f"{who}: {msg}") for msg in result.errors)
        if result.ok and lanr[:6] in PSEUDO_LANR_PREFIXES:
            findings.append(
                Finding(
                    f"{prefix}.lanr",
                    f"{who}: Für eine Pseudo-Arztnummer kann kein persönlicher Zugang "
                    "beantragt werden.",
                )
            )
    if Right.DOCS_LANR in person.rights and not lanr:
        findings.append(
            Finding(
                f"{prefix}.rights",
                f"{who}: Arztbezogene Dokumente gibt es nur für Personen mit LANR.",
            )
        )
    if is_listed(person) and not effective_rights(person):
        findings.append(
            Finding(f"{prefix}.rights", f"{who}: Bitte mindestens eine Berechtigung ankreuzen.")
        )
    return findings


def check_duplicates(data: ApplicationData) -> list[Finding]:
    """No person twice (same LANR, or same name without LANR); each person his own e-mail."""
    findings: list[Finding] = []
    seen_keys: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for index, person in enumerate(data.persons):
        if person.lanr.strip() or (person.last_name.strip() and person.first_name.strip()):
            key = person_key(person)
            if key in seen_keys:
                first = seen_keys[key] + 1
                findings.append(
                    Finding(
                        f"persons.{index}.lanr" if person.lanr else f"persons.{index}.last_name",
                        f"{person.display_name} ist bereits als Person {first} eingetragen; "
                        "jede Person darf nur einmal vorkommen.",
                    )
                )
            else:
                seen_keys[key] = index
        email = person.email.strip().casefold()
        if email:
            if email in seen_emails:
                findings.append(
                    Finding(
                        f"persons.{index}.email",
                        f"{person.display_name}: Die E-Mail-Adresse wird schon für Person "
                        f"{seen_emails[email] + 1} verwendet. Jede Person bestätigt den Antrag "
                        "selbst und braucht daher eine eigene Adresse.",
                    )
                )
            else:
                seen_emails[email] = index
    return findings


def _registry_checked(lanr: str) -> bool:
    """A LANR that is looked up in the Arztregister (well-formed, not a pseudo-LANR)."""
    return bool(lanr) and check_lanr(lanr).ok and lanr[:6] not in PSEUDO_LANR_PREFIXES


def check_registry(data: ApplicationData, registry: Registry) -> list[Finding]:
    """Arztregister (for the staff): BSNR known, LANR known and active at the BSNR, the ÄL a
    doctor of the MVZ. All of these are flags with ``registry=True``.

    The ÄL rule is a flag too, not an error: whether the ÄL's LANR is active at the BSNR can
    only be decided by looking up another person in the Arztregister, and an error would tell
    anyone who can create a draft who works where (security finding 8). The staff see it and
    decide (Nachbesserung or rejection).
    """
    findings: list[Finding] = []
    bsnr = data.bsnr.strip()
    if not check_bsnr(bsnr, own_kv_only=True).ok:
        return findings
    bsnr_known = registry.bsnr_known(bsnr)
    if not bsnr_known:
        findings.append(
            Finding(
                "bsnr",
                f"Die BSNR {bsnr} ist im Arztregister nicht bekannt.",
                Level.FLAG,
                registry=True,
            )
        )
    for index, person in enumerate(data.persons):
        lanr = person.lanr.strip()
        if not _registry_checked(lanr):
            continue
        status = registry.lanr_status(lanr, bsnr)
        field_name = f"persons.{index}.lanr"
        who = person.display_name
        if person.role is Role.LEITER and bsnr_known and status is not LanrStatus.ACTIVE:
            message = (
                f"{who}: Der Ärztliche Leiter muss Arzt des MVZ sein; laut Arztregister ist "
                f"die LANR {lanr} an der BSNR {bsnr} nicht tätig."
            )
        elif status is LanrStatus.UNKNOWN:
            message = f"{who}: Die LANR {lanr} ist im Arztregister nicht bekannt."
        elif status is LanrStatus.INACTIVE:
            message = (
                f"{who}: Die LANR {lanr} ist laut Arztregister an der BSNR {bsnr} nicht aktiv "
                "tätig."
            )
        else:
            continue
        findings.append(Finding(field_name, message, Level.FLAG, registry=True))
    return findings


#: what applicants are told about the registry check, whatever the Arztregister holds
NEUTRAL_PERSON_NOTE = "Die Angaben zu dieser Person werden vom Arztregister geprüft."
NEUTRAL_PRACTICE_NOTE = "Die Angaben zur Betriebsstätte werden vom Arztregister geprüft."


def neutral_registry_notes(data: ApplicationData) -> list[Finding]:
    """Notes for applicants that depend only on what they typed, never on the Arztregister:
    one for the BSNR and one for every person with a LANR that is looked up."""
    notes: list[Finding] = []
    if check_bsnr(data.bsnr.strip(), own_kv_only=True).ok:
        notes.append(Finding("bsnr", NEUTRAL_PRACTICE_NOTE, Level.FLAG))
    for index, person in enumerate(data.persons):
        if _registry_checked(person.lanr.strip()):
            notes.append(
                Finding(
                    f"persons.{index}.lanr",
                    f"{person.display_name}: {NEUTRAL_PERSON_NOTE}",
                    Level.FLAG,
                )
            )
    return notes


def for_applicant(data: ApplicationData, findings: Iterable[Finding]) -> list[Finding]:
    """The findings an applicant (member side, anonymous or logged in) may see: everything
    except registry results, plus the neutral notes (the same for known and unknown data)."""
    visible = [f for f in findings if not f.registry]
    return visible + neutral_registry_notes(data)


def check_application(data: ApplicationData, registry: Registry | None = None) -> list[Finding]:
    """All checks of an application, in form order. Errors block submission, flags do not."""
    findings = check_header(data)
    findings += check_roles(data)
    for index, person in enumerate(data.persons):
        findings += check_person(index, person)
    findings += check_duplicates(data)
    if registry is not None:
        findings += check_registry(data, registry)
    return findings


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level is Level.ERROR]


def flags(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level is Level.FLAG]


# --- confirmations (the online signatures) -----------------------------------------------------


def required_confirmations(data: ApplicationData) -> list[Person]:
    """Who must confirm: everybody named on the application.

    MVZ: Träger (Geschäftsführer) and Ärztlicher Leiter on the application, each employed doctor
    on his row; BAG: all partners (+ employed doctors); Einzelpraxis: the doctor (+ employed
    doctors). A person is asked once even if he appears in several capacities.
    """
    result: list[Person] = []
    seen: set[str] = set()
    for person in data.persons:
        key = person_key(person)
        if key not in seen:
            seen.add(key)
            result.append(person)
    return result


def content_fingerprint(data: ApplicationData) -> str:
    """SHA-256 over the canonical content; a confirmation is valid only for this exact content."""
    canonical = {
        "variant": str(data.variant),
        "practice_name": data.practice_name.strip(),
        "bsnr": data.bsnr.strip(),
        "traeger_name": data.traeger_name.strip(),
        "persons": [
            {
                "role": str(p.role),
                "last_name": p.last_name.strip(),
                "first_name": p.first_name.strip(),
                "email": p.email.strip().casefold(),
                "lanr": p.lanr.strip(),
                "listed": is_listed(p),
                "rights": sorted(str(r) for r in effective_rights(p)),
            }
            for p in data.persons
        ],
    }
    payload = json.dumps(canonical, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def missing_confirmations(data: ApplicationData, confirmed: Mapping[str, str]) -> list[Person]:
    """Required persons without a valid confirmation.

    ``confirmed`` maps :func:`person_key` to the fingerprint each person confirmed.
    """
    fingerprint = content_fingerprint(data)
    return [p for p in required_confirmations(data) if confirmed.get(person_key(p)) != fingerprint]


def is_complete(data: ApplicationData, confirmed: Mapping[str, str]) -> bool:
    """The application counts as submitted only when every required confirmation is present."""
    return not missing_confirmations(data, confirmed)


# --- workflow ----------------------------------------------------------------------------------


class Status(enum.StrEnum):
    ENTWURF = "entwurf"  # draft, editable
    BESTAETIGUNG = "bestaetigung"  # content frozen, waiting for the confirmations
    EINGEREICHT = "eingereicht"  # complete, in the Arztregister queue
    NACHBESSERUNG = "nachbesserung"  # staff asked for corrections
    GENEHMIGT = "genehmigt"
    ABGELEHNT = "abgelehnt"
    ZURUECKGEZOGEN = "zurueckgezogen"


STATUS_LABELS: dict[Status, str] = {
    Status.ENTWURF: "Entwurf",
    Status.BESTAETIGUNG: "Wartet auf Bestätigungen",
    Status.EINGEREICHT: "Eingereicht",
    Status.NACHBESSERUNG: "Nachbesserung erbeten",
    Status.GENEHMIGT: "Genehmigt",
    Status.ABGELEHNT: "Abgelehnt",
    Status.ZURUECKGEZOGEN: "Zurückgezogen",
}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.ENTWURF: frozenset({Status.BESTAETIGUNG, Status.ZURUECKGEZOGEN}),
    Status.BESTAETIGUNG: frozenset({Status.EINGEREICHT, Status.ENTWURF, Status.ZURUECKGEZOGEN}),
    Status.EINGEREICHT: frozenset({Status.GENEHMIGT, Status.ABGELEHNT, Status.NACHBESSERUNG}),
    Status.NACHBESSERUNG: frozenset({Status.BESTAETIGUNG, Status.ZURUECKGEZOGEN}),
    Status.GENEHMIGT: frozenset(),
    Status.ABGELEHNT: frozenset(),
    Status.ZURUECKGEZOGEN: frozenset(),
}

#: Statuses in which an application blocks a second one for the same BSNR.
PENDING = frozenset({Status.BESTAETIGUNG, Status.EINGEREICHT, Status.NACHBESSERUNG})

#: Statuses in which the applicant may edit the content.
EDITABLE = frozenset({Status.ENTWURF, Status.NACHBESSERUNG})


class TransitionError(ValueError):
    pass


def check_transition(current: Status, target: Status) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(
            f"Ein Antrag im Status „{STATUS_LABELS[current]}“ kann nicht in den Status "
            f"„{STATUS_LABELS[target]}“ wechseln."
        )


# --- initial passwords -------------------------------------------------------------------------

DEFAULT_INITIAL_PASSWORD_DAYS = 30


def initial_password_valid_until(issued_at: dt.datetime, days: int) -> dt.datetime:
    return issued_at + dt.timedelta(days=days)


def initial_password_expired(issued_at: dt.datetime, now: dt.datetime, days: int) -> bool:
    """An initial (letter) password may be used for ``days`` days after it was issued."""
    return now >= initial_password_valid_until(issued_at, days)
