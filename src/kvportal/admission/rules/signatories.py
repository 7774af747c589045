# BSG, Urt. v. 04.05.2016 – B 6 KA 24/15 R (seeds 002/004): a BAG applies as the BAG and all its
# partners sign; the applicant (or the authorised representative) and the employee sign too.
"""Who has to confirm (sign) an application. No Django."""

from __future__ import annotations

from dataclasses import dataclass, field

from kvportal.admission.rules.text import normalise

EINZELPRAXIS = "einzelpraxis"
BAG = "bag"
MVZ = "mvz"
APPLICANT_KINDS = (
    (EINZELPRAXIS, "Vertragsarzt/Vertragspsychotherapeut (Einzelpraxis)"),
    (BAG, "Berufsausübungsgemeinschaft (BAG)"),
    (MVZ, "Medizinisches Versorgungszentrum (MVZ)"),
)

ROLE_APPLICANT = "antragsteller"
ROLE_REPRESENTATIVE = "vertretungsberechtigter"
ROLE_PARTNER = "gesellschafter"
ROLE_EMPLOYEE = "angestellter"
ROLE_LABELS = {
    ROLE_APPLICANT: "Antragsteller",
    ROLE_REPRESENTATIVE: "Vertretungsberechtigte(r)",
    ROLE_PARTNER: "Gesellschafter(in) der BAG",
    ROLE_EMPLOYEE: "Angestellte(r)",
}


@dataclass(frozen=True)
class Person:
    name: str
    email: str = ""
    lanr: str = ""

    def key(self) -> str:
        """Identity for de-duplication: the LANR where known, else the e-mail, else the name."""
        return self.lanr or normalise(self.email) or normalise(self.name)


@dataclass
class Signatory:
    person: Person
    roles: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return " und ".join(ROLE_LABELS[r] for r in self.roles)


@dataclass
class SignatoryCheck:
    signatories: list[Signatory]
    errors: dict[str, list[str]]  # field name → messages


def required_signatories(
    *,
    applicant_kind: str,
    applicant: Person | None,
    representative: Person | None,
    employee: Person | None,
    partners: list[Person],
) -> SignatoryCheck:
    """The people who must confirm, de-duplicated (a representative who is also a partner
    confirms once, with both roles), and the field errors that prevent a complete list."""
    errors: dict[str, list[str]] = {}

    def err(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    ordered: list[tuple[Person, str]] = []
    if applicant_kind == EINZELPRAXIS:
        if applicant is None or not applicant.name:
            err("applicant_name", "Bitte geben Sie den Namen des Antragstellers an.")
        else:
            ordered.append((applicant, ROLE_APPLICANT))
        if partners:
            err(
                "partners",
                "Gesellschafter sind nur bei einer BAG anzugeben – ist der Antragsteller "
                "Mitglied einer BAG, muss die BAG den Antrag stellen.",
            )
    elif applicant_kind in (BAG, MVZ):
        if representative is None or not representative.name:
            err(
                "representative_name",
                "Bitte geben Sie bei BAG/MVZ den Namen des Vertretungsberechtigten an.",
            )
        else:
            ordered.append((representative, ROLE_REPRESENTATIVE))
        if applicant_kind == BAG:
            named = [p for p in partners if p.name.strip()]
            if len(named) < 2:
                err(
                    "partners",
                    "Eine BAG hat mindestens zwei Gesellschafter – bitte alle Gesellschafter "
                    "angeben; alle müssen den Antrag bestätigen.",
                )
            ordered.extend((p, ROLE_PARTNER) for p in named)
        elif partners:
            err("partners", "Gesellschafter sind nur bei einer BAG anzugeben.")
    else:
        err("applicant_kind", "Bitte wählen Sie, wer den Antrag stellt (Einzelpraxis, BAG, MVZ).")

    if employee is None or not employee.name:
        err("employee_name", "Bitte geben Sie den Namen der/des Angestellten an.")
    else:
        for person, role in ordered:
            if person.key() == employee.key() and role in (ROLE_PARTNER, ROLE_APPLICANT):
                err(
                    "employee_name",
                    "Die/der Angestellte kann nicht zugleich Antragsteller oder Gesellschafter "
                    "der BAG sein.",
                )
        ordered.append((employee, ROLE_EMPLOYEE))

    merged: dict[str, Signatory] = {}
    for person, role in ordered:
        key = person.key()
        if key in merged:
            if role not in merged[key].roles:
                merged[key].roles.append(role)
        else:
            merged[key] = Signatory(person, [role])
    return SignatoryCheck(list(merged.values()), errors)
