"""Declarative application types of the Zulassungsausschuss. No Django.

An `ApplicationType` lists its sections, fields (with conditions), modes, attachments,
signatory roles, fee rule, notices and extra rule functions. `validate()` runs the generic
checks (required fields, formats, attachments) and then each rule function. Further types
(Anstellung, Zulassung, Sitzverlegung, …) are added as new definitions in `types.py`,
reusing the field groups and rule functions; the Django layer renders forms, PDFs and the
review page from the definition.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from kvportal.admission.rules.dates import DEFAULT_LEAD_TIME, SessionSlot
from kvportal.admission.rules.fees import FeeRule, FeeSchedule
from kvportal.admission.rules.signatories import Signatory
from kvportal.admission.rules.text import parse_date

BEZIRKE = (("chemnitz", "Chemnitz"), ("dresden", "Dresden"), ("leipzig", "Leipzig"))
BEZIRK_LABELS = dict(BEZIRKE)
#: BSNR prefix of the KV Sachsen Bezirksstellen → Zulassungsbezirk
BEZIRK_BY_BSNR_PREFIX = {"94": "chemnitz", "95": "dresden", "96": "leipzig"}

COMMITTEE_AERZTE = "aerzte"
COMMITTEE_PSYCHOTHERAPIE = "psychotherapie"
COMMITTEES = (
    (COMMITTEE_AERZTE, "Zulassungsausschuss Ärzte"),
    (COMMITTEE_PSYCHOTHERAPIE, "Zulassungsausschuss Ärzte in der Besetzung nach § 95 Abs. 13 "
     "SGB V (Psychotherapie)"),
)  # fmt: skip
COMMITTEE_LABELS = dict(COMMITTEES)

NEIN_JA = (("nein", "nein"), ("ja", "ja"))


# --- conditions -------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldIn:
    """Condition: the field's value is one of `values`."""

    name: str
    values: tuple[str, ...]

    def holds(self, data: dict, derived: dict) -> bool:
        return str(data.get(self.name) or "") in self.values


@dataclass(frozen=True)
class Derived:
    """Condition on a value computed during validation (e.g. Anlage 1 needs evidence)."""

    key: str

    def holds(self, data: dict, derived: dict) -> bool:
        return bool(derived.get(self.key))


@dataclass(frozen=True)
class Always:
    def holds(self, data: dict, derived: dict) -> bool:
        return True


@dataclass(frozen=True)
class AllOf:
    conditions: tuple

    def holds(self, data: dict, derived: dict) -> bool:
        return all(c.holds(data, derived) for c in self.conditions)


ALWAYS = Always()
Condition = FieldIn | Derived | Always | AllOf


# --- definitions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str = ""
    when: Condition = ALWAYS


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    section: str
    kind: str = "text"  # text, textarea, choice, radio, date, decimal, email, phone, plz
    required: bool = True
    when: Condition = ALWAYS  # relevant (shown, and required if `required`) only when it holds
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""
    max_length: int = 200
    prefill: str = ""  # key of the registry prefill (see the Django prefill service)


@dataclass(frozen=True)
class AttachmentDef:
    kind: str
    label: str
    help: str = ""
    when: Condition = ALWAYS


@dataclass(frozen=True)
class Notice:
    """A hint shown in the form and printed on the PDF."""

    text: str
    when: Condition = ALWAYS


@dataclass
class ValidationContext:
    today: dt.date
    sessions: tuple[SessionSlot, ...] = ()
    lead_time: dt.timedelta = DEFAULT_LEAD_TIME
    #: the factor the registry knows for the employee at this BSNR (None: unknown)
    registered_factor: Decimal | None = None
    #: attachment kinds already uploaded
    attachments: frozenset[str] = frozenset()
    #: LANRs of signatories who have a portal login (they need no e-mail for a one-time code)
    known_logins: frozenset[str] = frozenset()
    #: False when re-checking a submitted application (date vs. session becomes a warning)
    drafting: bool = True


@dataclass
class ValidationResult:
    #: field name → messages; special keys: "__all__", "anlage1", "anlage1.<row>",
    #: "attachment.<kind>", "partners"
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: computed values shown to the user (weekly hours, min. consultation hours, fees, …)
    computed: dict = field(default_factory=dict)
    signatories: list[Signatory] = field(default_factory=list)
    required_attachments: list[AttachmentDef] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    fees: FeeSchedule | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, key: str, message: str) -> None:
        messages = self.errors.setdefault(key, [])
        if message not in messages:
            messages.append(message)

    def has(self, key: str) -> bool:
        return key in self.errors


Rule = Callable[["ApplicationType", dict, ValidationContext, ValidationResult, dict], None]


@dataclass(frozen=True)
class ApplicationType:
    code: str
    title: str
    short_title: str
    committee: str
    sections: tuple[Section, ...]
    fields: tuple[FieldDef, ...]
    attachments: tuple[AttachmentDef, ...]
    fee_rule: FeeRule
    rules: tuple[Rule, ...] = ()
    notices: tuple[Notice, ...] = ()
    #: words that differ between doctors and psychotherapists (templates use them)
    wording: dict[str, str] = field(default_factory=dict)
    #: field holding the mode (exactly one of …), if the type has modes
    mode_field: str = ""
    #: condition under which the Anlage 1 table is required
    anlage1_when: Condition | None = None
    #: fields that identify "the same change" (a second pending application is refused)
    duplicate_fields: tuple[str, ...] = ()

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def fields_in(self, section: str) -> list[FieldDef]:
        return [f for f in self.fields if f.section == section]

    def relevant(self, f: FieldDef | Section | AttachmentDef, data: dict, derived: dict) -> bool:
        return f.when.holds(data, derived)

    def needs_anlage1(self, data: dict) -> bool:
        return self.anlage1_when is not None and self.anlage1_when.holds(data, {})

    def duplicate_key(self, data: dict) -> tuple[str, ...]:
        return (self.code, *(str(data.get(name) or "").strip() for name in self.duplicate_fields))

    def choice_label(self, name: str, value: object) -> str:
        return dict(self.field(name).choices).get(str(value or ""), str(value or ""))


# --- the generic validation ---------------------------------------------------------------

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^[0-9+()/ \-]{6,30}$")
PLZ_RE = re.compile(r"^[0-9]{5}$")


def _check_format(f: FieldDef, value: object) -> str | None:
    text = str(value).strip()
    if len(text) > f.max_length:
        return f"{f.label}: höchstens {f.max_length} Zeichen."
    if f.kind == "email" and not EMAIL_RE.match(text):
        return f"„{text}“ ist keine gültige E-Mail-Adresse."
    if f.kind == "phone" and not PHONE_RE.match(text):
        return f"„{text}“ ist keine gültige Telefonnummer (Ziffern, Leerzeichen, + / - ( ))."
    if f.kind == "plz" and not PLZ_RE.match(text):
        return "Die Postleitzahl besteht aus fünf Ziffern."
    if f.kind in ("choice", "radio") and text not in {v for v, _ in f.choices}:
        return f"Bitte wählen Sie bei „{f.label}“ eine der angebotenen Möglichkeiten."
    if f.kind == "date" and parse_date(text) is None:
        return f"{f.label}: bitte ein Datum im Format TT.MM.JJJJ angeben."
    if f.kind == "decimal":
        try:
            Decimal(text.replace(",", "."))
        except ArithmeticError:
            return f"{f.label}: bitte eine Zahl angeben (z. B. 25 oder 22,5)."
    return None


def clean_data(app_type: ApplicationType, data: dict) -> dict:
    """Strip strings and drop values of fields that are not relevant (e.g. other modes)."""
    cleaned = {}
    for key, value in data.items():
        cleaned[key] = value.strip() if isinstance(value, str) else value
    for f in app_type.fields:
        if not f.when.holds(cleaned, {}):
            cleaned.pop(f.name, None)
    return cleaned


def validate(app_type: ApplicationType, data: dict, ctx: ValidationContext) -> ValidationResult:
    """Validate the whole application. `data` holds field values (strings, dates, Decimals),
    plus lists under "anlage1" (rows) and "partners" (BAG partners)."""
    result = ValidationResult()
    derived: dict = {}
    for f in app_type.fields:
        if not f.when.holds(data, derived):
            continue
        value = data.get(f.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                result.add(f.name, f"Bitte „{f.label}“ angeben.")
            continue
        message = _check_format(f, value)
        if message:
            result.add(f.name, message)
    for rule in app_type.rules:
        rule(app_type, data, ctx, result, derived)
    for notice in app_type.notices:
        if notice.when.holds(data, derived):
            result.notices.append(notice.text)
    for attachment in app_type.attachments:
        if attachment.when.holds(data, derived):
            result.required_attachments.append(attachment)
            if attachment.kind not in ctx.attachments:
                result.add(
                    f"attachment.{attachment.kind}",
                    f"Bitte fügen Sie als eigene PDF-Datei bei: {attachment.label}.",
                )
    return result
