# Seeds 002/004 (KV Sachsen): "Antrag auf Erhöhung des Anrechnungsfaktors eines angestellten
# Arztes/Psychotherapeuten"; § 95 Abs. 13 SGB V composition for psychotherapy; BSG B 6 KA 24/15 R
# (a BAG applies as the BAG).
"""The application types of the Zulassungsausschuss, built from shared field groups and rules.

To add a type: compose its sections/fields from the builders below (or new ones), list its
attachments, rules and fee rule, and add it to `REGISTRY`. No Django.
"""

from __future__ import annotations

from kvportal.admission.rules import anlage1 as anlage1_rules
from kvportal.admission.rules.dates import check_effective_date
from kvportal.admission.rules.definitions import (
    BEZIRK_BY_BSNR_PREFIX,
    BEZIRK_LABELS,
    BEZIRKE,
    COMMITTEE_AERZTE,
    COMMITTEE_PSYCHOTHERAPIE,
    NEIN_JA,
    AllOf,
    ApplicationType,
    AttachmentDef,
    Condition,
    Derived,
    FieldDef,
    FieldIn,
    Notice,
    Rule,
    Section,
    ValidationContext,
    ValidationResult,
    parse_date,
)
from kvportal.admission.rules.fees import FeeRule, compute_fees
from kvportal.admission.rules.hours import (
    band_for,
    check_hours,
    check_increase,
    factor_for_hours,
    parse_factor,
    parse_hours,
    weekly_hours,
)
from kvportal.admission.rules.signatories import (
    APPLICANT_KINDS,
    BAG,
    EINZELPRAXIS,
    MVZ,
    Person,
    required_signatories,
)
from kvportal.admission.rules.text import fmt_decimal, normalise
from kvportal.members.identifiers import check_bsnr, check_lanr

# modes ("Die Erhöhung erfolgt …", exactly one)
NACHBESETZUNG = "nachbesetzung"
UEBERNAHME = "uebernahme"
PLANUNGSBEREICH = "planungsbereich"
LEISTUNGSBESCHRAENKUNG = "leistungsbeschraenkung"
ANLAGE1_MODES = (UEBERNAHME, PLANUNGSBEREICH)

# attachment kinds
ARBEITSVERTRAG = "arbeitsvertrag"
TAETIGKEITSNACHWEISE = "taetigkeitsnachweise"
ERKLAERUNG_LB = "erklaerung_leistungsbeschraenkung"
NACHREICHUNG = "nachreichung"  # documents sent in answer to a Nachforderung
ATTACHMENT_LABELS = {
    ARBEITSVERTRAG: "Angepasster Arbeitsvertrag",
    TAETIGKEITSNACHWEISE: "Nachweise über die ausgeübten Tätigkeiten",
    ERKLAERUNG_LB: "Erklärung zur Leistungsbeschränkung",
    NACHREICHUNG: "Nachgereichte Unterlage",
}

FACTOR_FROM_CHOICES = (("0.25", "0,25"), ("0.5", "0,5"), ("0.75", "0,75"))
FACTOR_TO_CHOICES = (("0.5", "0,5"), ("0.75", "0,75"), ("1.0", "1,0"))
HOURS_UNITS = (("woche", "pro Woche"), ("monat", "pro Monat (× 0,23)"))

WORDING_ARZT = {
    "person": "Arzt",
    "person_gen": "Arztes",
    "sitz": "Vertragsarztsitz",
    "fach": "Fachgebiets- / Schwerpunktbezeichnung",
    "lb_fach": "Fachgebiets- / Schwerpunktbezeichnung",
    "taetigkeit": "ärztlichen",
    "anlage1_title": "Lückenlose Aufstellung der ärztlichen Tätigkeiten seit der Approbation "
    "in zeitlicher Reihenfolge",
    "vertrags": "Vertragsarzt",
}
WORDING_PSYCHOTHERAPEUT = {
    "person": "Psychotherapeut",
    "person_gen": "Psychotherapeuten",
    "sitz": "Vertragspsychotherapeutensitz",
    "fach": "Approbation / Richtlinienverfahren",
    "lb_fach": "Approbation / Richtlinienverfahren",
    "taetigkeit": "psychotherapeutischen",
    "anlage1_title": "Lückenlose Aufstellung der psychotherapeutischen Tätigkeiten nach der "
    "Approbation und Abschluss des Richtlinienverfahrens in zeitlicher Reihenfolge",
    "vertrags": "Vertragspsychotherapeut",
}


# --- field groups (reusable by further types) ----------------------------------------------


def bezirk_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef(
            "bezirk", "Zulassungsbezirk", "bezirk", kind="radio", choices=BEZIRKE,
            prefill="bezirk",
        ),
    )  # fmt: skip


def applicant_fields(w: dict[str, str]) -> tuple[FieldDef, ...]:
    group = FieldIn("applicant_kind", (BAG, MVZ))
    return (
        FieldDef(
            "applicant_kind", "Antragsteller ist", "antragsteller", kind="radio",
            choices=APPLICANT_KINDS, prefill="applicant_kind",
            help=f"Ist ein {w['vertrags']} Mitglied einer BAG, muss die BAG den Antrag stellen.",
        ),
        FieldDef("applicant_title", "Titel", "antragsteller", required=False, max_length=50,
                 prefill="applicant_title"),
        FieldDef(
            "applicant_name", "Vorname, Name / Bezeichnung der BAG / Träger des MVZ",
            "antragsteller", prefill="applicant_name",
        ),
        FieldDef("applicant_lanr", "LANR des Antragstellers", "antragsteller", required=False,
                 when=FieldIn("applicant_kind", (EINZELPRAXIS,)), max_length=9,
                 prefill="applicant_lanr"),
        FieldDef("bsnr", "BSNR", "antragsteller", max_length=9, prefill="bsnr"),
        FieldDef("representative_name", "Name Vertretungsberechtigte(r)", "antragsteller",
                 when=group, prefill="representative_name"),
        FieldDef("representative_lanr", "LANR Vertretungsberechtigte(r) (falls vorhanden)",
                 "antragsteller", required=False, when=group, max_length=9,
                 prefill="representative_lanr"),
        FieldDef("representative_email", "E-Mail Vertretungsberechtigte(r)", "antragsteller",
                 kind="email", when=group, required=False, prefill="representative_email",
                 help="Für die Bestätigung per Einmalcode, falls kein Portalzugang besteht."),
        FieldDef(
            "mvz_name", "Falls abweichend: Name des MVZ, in dem der Angestellte tätig werden soll",
            "antragsteller", required=False, when=FieldIn("applicant_kind", (MVZ,)),
            prefill="mvz_name",
        ),
        FieldDef("sitz_strasse", f"{w['sitz']}: Straße, Hausnummer", "antragsteller",
                 prefill="sitz_strasse"),
        FieldDef("sitz_plz", "PLZ", "antragsteller", kind="plz", max_length=5,
                 prefill="sitz_plz"),
        FieldDef("sitz_ort", "Ort", "antragsteller", prefill="sitz_ort"),
        FieldDef("applicant_fach", w["fach"], "antragsteller", prefill="applicant_fach"),
        FieldDef("phone", "Telefonnummer", "antragsteller", kind="phone", max_length=30,
                 prefill="phone"),
        FieldDef("email", "E-Mail-Adresse", "antragsteller", kind="email", prefill="email"),
    )  # fmt: skip


def employee_fields(w: dict[str, str]) -> tuple[FieldDef, ...]:
    return (
        FieldDef("employee_title", "Titel", "angestellter", required=False, max_length=50,
                 prefill="employee_title"),
        FieldDef("employee_name", "Vorname, Name", "angestellter", prefill="employee_name"),
        FieldDef("employee_lanr", "LANR", "angestellter", max_length=9, prefill="employee_lanr"),
        FieldDef("employee_fach", "Fachgebietsbezeichnung", "angestellter",
                 prefill="employee_fach"),
        FieldDef("employee_schwerpunkt", "Schwerpunkt- / Zusatzbezeichnung", "angestellter",
                 required=False, prefill="employee_schwerpunkt"),
        FieldDef("work_strasse", "Tätigkeitsort: Straße, Hausnummer", "angestellter",
                 prefill="work_strasse"),
        FieldDef("work_plz", "PLZ", "angestellter", kind="plz", max_length=5, prefill="work_plz"),
        FieldDef("work_ort", "Ort", "angestellter", prefill="work_ort"),
        FieldDef("employee_email", f"E-Mail des angestellten {w['person_gen']}", "angestellter",
                 kind="email", required=False, prefill="employee_email",
                 help="Für die Bestätigung per Einmalcode, falls kein Portalzugang besteht."),
    )  # fmt: skip


def increase_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef("factor_from", "Bisheriger Anrechnungsfaktor (von)", "erhoehung", kind="radio",
                 choices=FACTOR_FROM_CHOICES, prefill="factor_from"),
        FieldDef("factor_to", "Neuer Anrechnungsfaktor (auf)", "erhoehung", kind="radio",
                 choices=FACTOR_TO_CHOICES),
        FieldDef("hours", "Arbeitszeit lt. Arbeitsvertrag (Stunden)", "erhoehung",
                 kind="decimal", max_length=10),
        FieldDef("hours_unit", "Die Stunden sind vereinbart", "erhoehung", kind="radio",
                 choices=HOURS_UNITS,
                 help="Monatlich vereinbarte Stunden werden mit 0,23 in Wochenstunden "
                 "umgerechnet (§ 51 Abs. 2 Bedarfsplanungs-Richtlinie)."),
        FieldDef("effective_date", "Die Änderung soll erfolgen ab dem", "erhoehung",
                 kind="date", help="Nur zum Monatsersten und nur für die Zukunft."),
    )  # fmt: skip


def mode_fields(w: dict[str, str]) -> tuple[FieldDef, ...]:
    def m(mode: str) -> FieldIn:
        return FieldIn("mode", (mode,))

    return (
        FieldDef(
            "mode", "Die Erhöhung erfolgt", "art", kind="radio",
            choices=(
                (NACHBESETZUNG, "als Nachbesetzung der bisherigen Anstellung von"),
                (UEBERNAHME, f"als Übernahme des {w['sitz']}es von"),
                (PLANUNGSBEREICH, "im nicht gesperrten Planungsbereich"),
                (LEISTUNGSBESCHRAENKUNG, "als Anstellung mit Leistungsbeschränkung"),
            ),
        ),
        FieldDef("nachbesetzung_name", "Titel, Vorname, Name der/des bisher Angestellten", "art",
                 when=m(NACHBESETZUNG)),
        FieldDef("uebernahme_name", f"Titel, Vorname, Name (bisheriger {w['sitz']})", "art",
                 when=m(UEBERNAHME)),
        FieldDef("chiffre", f"Ggf. Chiffre-Nummer bei ausgeschriebenem {w['sitz']}", "art",
                 required=False, when=m(UEBERNAHME), max_length=30),
        FieldDef("planungsbereich", "Name Planungsbereich", "art", when=m(PLANUNGSBEREICH)),
        FieldDef("lb_name", "Gebunden an: Titel, Vorname, Name", "art",
                 when=m(LEISTUNGSBESCHRAENKUNG)),
        FieldDef("lb_fach", f"Gebunden an: {w['lb_fach']}", "art",
                 when=m(LEISTUNGSBESCHRAENKUNG),
                 help="Nur bei Fachgebietsidentität mit der/dem Angestellten möglich."),
    )  # fmt: skip


def related_fields() -> tuple[FieldDef, ...]:
    return (
        FieldDef(
            "related", "Sind mit dem Antrag weitere Antragstellungen verbunden?", "weitere",
            kind="radio", choices=NEIN_JA,
            help="z. B. Antrag auf Verlegung des Sitzes, Genehmigung einer Nebenbetriebsstätte. "
            "Diese Information ersetzt nicht die Antragstellung!",
        ),
        FieldDef("related_text", "Welche?", "weitere", kind="textarea", max_length=1000,
                 when=FieldIn("related", ("ja",))),
    )  # fmt: skip


def anlage1_fields(anlage1_when: Condition) -> tuple[FieldDef, ...]:
    return (
        FieldDef("anlage1_waitlist", "Eintragung Warteliste vorhanden", "anlage1", kind="radio",
                 choices=(("nein", "Nein"), ("ja", "Ja")), when=anlage1_when),
        FieldDef("anlage1_waitlist_pb", "Warteliste im Planungsbereich", "anlage1",
                 when=AllOf((anlage1_when, FieldIn("anlage1_waitlist", ("ja",))))),
    )  # fmt: skip


# --- rules (reusable) ----------------------------------------------------------------------


def rule_bsnr(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    bsnr = str(data.get("bsnr") or "").strip()
    if not bsnr or result.has("bsnr"):
        return
    check = check_bsnr(bsnr, own_kv_only=True)
    for message in check.errors:
        result.add("bsnr", message)
    bezirk = data.get("bezirk")
    expected = BEZIRK_BY_BSNR_PREFIX.get(bsnr[:2])
    if check.ok and bezirk and expected and expected != bezirk:
        result.warnings.append(
            f"Die BSNR {bsnr} gehört zur Bezirksstelle {BEZIRK_LABELS[expected]}, gewählt ist "
            f"der Zulassungsbezirk {BEZIRK_LABELS.get(bezirk, bezirk)} – bitte prüfen."
        )


def _lanr(name: str) -> Rule:
    def rule(
        t: ApplicationType,
        data: dict,
        ctx: ValidationContext,
        result: ValidationResult,
        derived: dict,
    ) -> None:
        value = str(data.get(name) or "").strip()
        if not value or result.has(name) or not t.field(name).when.holds(data, derived):
            return
        check = check_lanr(value)
        for message in check.errors:
            result.add(name, message)
        result.warnings.extend(check.warnings)

    return rule


def rule_increase(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    src = parse_factor(data.get("factor_from"))
    dst = parse_factor(data.get("factor_to"))
    if src is None or dst is None:
        return  # the required-field message is already there
    message = check_increase(src, dst)
    if message:
        result.add("factor_to", message)
    if ctx.registered_factor is not None and ctx.registered_factor != src:
        result.add(
            "factor_from",
            f"Laut Arztregister ist die Anstellung mit dem Faktor "
            f"{fmt_decimal(ctx.registered_factor)} genehmigt, nicht {fmt_decimal(src)}.",
        )
    derived["factor_to"] = dst


def rule_hours(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    raw = data.get("hours")
    if raw in (None, "") or result.has("hours"):
        return
    hours = parse_hours(raw)
    if hours is None:
        result.add("hours", "Bitte die Arbeitszeit als Zahl angeben (z. B. 25 oder 22,5).")
        return
    weekly = weekly_hours(hours, per_month=data.get("hours_unit") == "monat")
    result.computed["weekly_hours"] = weekly
    result.computed["factor_for_hours"] = factor_for_hours(weekly)
    dst = parse_factor(data.get("factor_to"))
    if dst is None:
        return
    result.computed["min_consultation_hours"] = band_for(dst).min_consultation_hours
    result.computed["band"] = band_for(dst).describe()
    message = check_hours(weekly, dst)
    if message:
        if data.get("hours_unit") == "monat":
            message = f"{fmt_decimal(hours)} Stunden pro Monat × 0,23 = " + message
        result.add("hours", message)


def rule_effective_date(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    already = result.has("effective_date")  # missing/unparsable: still compute the session
    check = check_effective_date(
        parse_date(data.get("effective_date")),
        today=ctx.today,
        sessions=ctx.sessions,
        bezirk=data.get("bezirk") or None,
        committee=t.committee,
        lead_time=ctx.lead_time,
        session_too_late_is_error=ctx.drafting,
    )
    for message in check.errors:
        if not already:
            result.add("effective_date", message)
    result.warnings.extend(check.warnings)
    result.computed["earliest_session"] = check.earliest_session
    result.computed["earliest_date"] = check.earliest_date


def rule_lb_identity(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    if data.get("mode") != LEISTUNGSBESCHRAENKUNG:
        return
    bound, own = data.get("lb_fach") or "", data.get("employee_fach") or ""
    if bound and own and normalise(bound) != normalise(own):
        result.add(
            "lb_fach",
            f"Die Anstellung mit Leistungsbeschränkung ist nur bei Fachgebietsidentität möglich: "
            f"„{bound}“ stimmt nicht mit der Fachgebietsbezeichnung der/des Angestellten "
            f"(„{own}“) überein.",
        )


def rule_anlage1(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    if not t.needs_anlage1(data):
        return
    check = anlage1_rules.check_anlage1(list(data.get("anlage1") or []), today=ctx.today)
    for row, messages in check.errors.items():
        for message in messages:
            result.add("anlage1" if row is None else f"anlage1.{row}", message)
    derived["anlage1_evidence_attached"] = check.needs_attached_evidence


def rule_signatories(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    def person(prefix: str, email_field: str) -> Person | None:
        name = str(data.get(f"{prefix}_name") or "").strip()
        if not name:
            return None
        title = str(data.get(f"{prefix}_title") or "").strip()
        return Person(
            name=f"{title} {name}".strip(),
            email=str(data.get(email_field) or "").strip(),
            lanr=str(data.get(f"{prefix}_lanr") or "").strip(),
        )

    kind = data.get("applicant_kind") or ""
    partners = [
        Person(
            name=str(p.get("name") or "").strip(),
            email=str(p.get("email") or "").strip(),
            lanr=str(p.get("lanr") or "").strip(),
        )
        for p in (data.get("partners") or [])
        if any(str(v or "").strip() for v in p.values())
    ]
    check = required_signatories(
        applicant_kind=kind,
        applicant=person("applicant", "email") if kind == EINZELPRAXIS else None,
        representative=person("representative", "representative_email")
        if kind in (BAG, MVZ)
        else None,
        employee=person("employee", "employee_email"),
        partners=partners,
    )
    for name, messages in check.errors.items():
        if name in (
            "applicant_kind",
            "applicant_name",
            "representative_name",
            "employee_name",
        ) and (result.has(name)):
            continue
        for message in messages:
            result.add(name, message)
    for index, p in enumerate(partners):
        if not p.name:
            result.add("partners", f"Gesellschafter {index + 1}: Bitte den Namen angeben.")
        if p.lanr and not check_lanr(p.lanr).ok:
            result.add("partners", f"Gesellschafter {p.name or index + 1}: LANR ungültig.")
    email_fields = {"angestellter": "employee_email", "vertretungsberechtigter":
                    "representative_email"}  # fmt: skip
    for signatory in check.signatories:
        p = signatory.person
        if p.email or (p.lanr and p.lanr in ctx.known_logins):
            continue
        message = (
            f"{p.name} ({signatory.label}) hat keinen Portalzugang – bitte eine E-Mail-Adresse "
            "für die Bestätigung per Einmalcode angeben."
        )
        target = next(
            (email_fields[r] for r in signatory.roles if r in email_fields),
            "partners" if "gesellschafter" in signatory.roles else "email",
        )
        result.add(target, message)
    result.signatories = check.signatories


def rule_fees(
    t: ApplicationType, data: dict, ctx: ValidationContext, result: ValidationResult, derived: dict
) -> None:
    result.fees = compute_fees(t.fee_rule, data.get(t.mode_field) if t.mode_field else None)


# --- the two types of the seeds -------------------------------------------------------------


def _erhoehung(code: str, committee: str, w: dict[str, str], short: str) -> ApplicationType:
    needs_anlage1 = FieldIn("mode", ANLAGE1_MODES)
    return ApplicationType(
        code=code,
        title=f"Antrag auf Erhöhung des Anrechnungsfaktors eines angestellten {w['person_gen']}",
        short_title=short,
        committee=committee,
        wording=w,
        mode_field="mode",
        anlage1_when=needs_anlage1,
        duplicate_fields=("bsnr", "employee_lanr", "factor_from", "factor_to"),
        sections=(
            Section("bezirk", "Zulassungsbezirk"),
            Section(
                "antragsteller",
                "Antragsteller",
                f"Soweit ein {w['vertrags']} Mitglied einer BAG ist, muss der Antrag von der BAG "
                "gestellt werden. Alle Gesellschafter der BAG müssen den Antrag und den "
                "Anstellungsvertrag unterzeichnen (BSG, Urt. v. 04.05.2016 – B 6 KA 24/15 R).",
            ),
            Section(
                "angestellter",
                f"Angestellter {w['person']}",
                "Die genehmigte Anstellung von … soll wie folgt erhöht werden.",
            ),
            Section("erhoehung", "Erhöhung des Anrechnungsfaktors"),
            Section("art", "Die Erhöhung erfolgt"),
            Section("weitere", "Weitere Anträge"),
            Section(
                "anlage1",
                f"Anlage 1: {w['anlage1_title']}",
                "Bei Praxisübernahmen oder der partiellen Öffnung eines Planungsbereichs hat "
                "der Zulassungsausschuss bei mehreren Anträgen ein Auswahlverfahren "
                "durchzuführen, bei dem u. a. die Dauer der bisherigen Tätigkeit zu "
                "berücksichtigen ist.",
                when=needs_anlage1,
            ),
            Section(
                "unterlagen",
                "Antragsunterlagen",
                "Bitte jede Unterlage als eigene PDF-Datei hochladen.",
            ),
            Section(
                "unterschriften",
                "Bestätigungen (Unterschriften)",
                f"Neben dem Antragsteller und dem anzustellenden {w['person']} müssen bei "
                "einer BAG alle Gesellschafter den Antrag bestätigen.",
            ),
        ),
        fields=(
            *bezirk_fields(),
            *applicant_fields(w),
            *employee_fields(w),
            *increase_fields(),
            *mode_fields(w),
            *related_fields(),
            *anlage1_fields(needs_anlage1),
        ),
        attachments=(
            AttachmentDef(
                ARBEITSVERTRAG,
                "Schriftlicher, von beiden Parteien unterschriebener angepasster Arbeitsvertrag "
                "unter Angabe der wöchentlichen Arbeitszeit",
            ),
            AttachmentDef(
                TAETIGKEITSNACHWEISE,
                f"Nachweise/Bescheinigungen über die ausgeübten {w['taetigkeit']} Tätigkeiten, "
                "soweit sie nicht im Arztregister der KVS hinterlegt sind",
                when=AllOf((needs_anlage1, Derived("anlage1_evidence_attached"))),
            ),
            AttachmentDef(
                ERKLAERUNG_LB,
                "Gesonderte Erklärung des/der Antragsteller zur Anstellung mit "
                "Leistungsbeschränkung",
                when=FieldIn("mode", (LEISTUNGSBESCHRAENKUNG,)),
            ),
        ),
        fee_rule=FeeRule(
            halved_modes=frozenset({NACHBESETZUNG}),
            admin_fee_exempt_modes=frozenset({NACHBESETZUNG}),
        ),
        notices=(
            Notice(
                f"Die Beendigung oder Reduzierung der Anstellung des bisher angestellten "
                f"{w['person_gen']} ist gesondert anzuzeigen.",
                when=FieldIn("mode", (NACHBESETZUNG,)),
            ),
            Notice(
                "Nach Antragseingang wird Ihnen eine Berechnung Ihrer Leistungsbeschränkung durch "
                "die KVS zugesandt. Diese ist durch den/die Antragsteller zu unterzeichnen und bis "
                "zur Sitzung des Zulassungsausschusses an die Geschäftsstelle zurückzusenden.",
                when=FieldIn("mode", (LEISTUNGSBESCHRAENKUNG,)),
            ),
            Notice(
                "Statusändernde Entscheidungen können nur mit Wirkung für die Zukunft genehmigt "
                "werden; eine Tätigkeitsaufnahme ist grundsätzlich nur zum Monatsbeginn möglich."
            ),
        ),
        rules=(
            rule_bsnr,
            _lanr("applicant_lanr"),
            _lanr("representative_lanr"),
            _lanr("employee_lanr"),
            rule_increase,
            rule_hours,
            rule_effective_date,
            rule_lb_identity,
            rule_anlage1,
            rule_signatories,
            rule_fees,
        ),
    )


ERHOEHUNG_ARZT = _erhoehung(
    "erhoehung_arzt", COMMITTEE_AERZTE, WORDING_ARZT, "Erhöhung Anrechnungsfaktor (Arzt)"
)
ERHOEHUNG_PSYCHOTHERAPEUT = _erhoehung(
    "erhoehung_psychotherapeut",
    COMMITTEE_PSYCHOTHERAPIE,
    WORDING_PSYCHOTHERAPEUT,
    "Erhöhung Anrechnungsfaktor (Psychotherapeut)",
)

REGISTRY: dict[str, ApplicationType] = {
    t.code: t for t in (ERHOEHUNG_ARZT, ERHOEHUNG_PSYCHOTHERAPEUT)
}


def get_type(code: str) -> ApplicationType:
    try:
        return REGISTRY[code]
    except KeyError:
        raise KeyError(f"Unbekannte Antragsart „{code}“.") from None
