"""German texts for the codes of `billing.rules.Problem` (the rules stay free of Django)."""

from __future__ import annotations

import datetime as dt

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from kvportal.billing.rules import Problem


def _texts() -> dict[str, str]:
    return {
        "too_early": _(
            "Die Abrechnung für das Quartal {quarter} kann erst ab dem {early_from} "
            "eingereicht werden."
        ),
        "billing_not_open": _(
            "Die Online-Abrechnung steht Ihnen erst ab dem Quartal {opens} zur Verfügung "
            "(ab dem Quartal nach Ihrer ersten Passwortänderung). Für das Quartal {quarter} "
            "reichen Sie die Abrechnung bitte noch auf dem bisherigen Weg ein."
        ),
        "billing_not_open_no_password_change": _(
            "Die Online-Abrechnung steht erst ab dem Quartal nach Ihrer ersten "
            "Passwortänderung zur Verfügung. Bitte ändern Sie zuerst Ihr Initialpasswort."
        ),
        "no_right": _(
            "Für die Betriebsstätte {bsnr} haben Sie kein Recht zur Abgabe der Abrechnung."
        ),
        "filename_empty": _("Die Datei hat keinen Namen."),
        "filename_chars": _("Der Dateiname enthält unzulässige Steuerzeichen."),
        "filename_too_long": _("Der Dateiname ist länger als {max_chars} Zeichen."),
        "filename_extension": _(
            "„{name}“ ist keine Abrechnungsdatei: erlaubt sind KVDT-Dateien mit der Endung "
            "„.con“ und mit dem KBV-Kryptomodul verschlüsselte Dateien mit der Endung "
            "„.con.xkm“."
        ),
        "filename_xkm_not_standard": _(
            "Die verschlüsselte Datei „{name}“ trägt nicht den Dateinamen, den die "
            "Praxissoftware vergibt (z. B. Z01123456789_15.04.2026_10.30.con.xkm). Die "
            "Betriebsstätte einer verschlüsselten Datei kann nur am Namen geprüft werden – "
            "bitte laden Sie die Datei unter ihrem ursprünglichen Namen hoch."
        ),
        "filename_bsnr_mismatch": _(
            "Die verschlüsselte Datei gehört laut Dateiname zur BSNR {found}, gewählt ist "
            "aber die BSNR {chosen}."
        ),
        "file_empty": _("Die Datei ist leer."),
        "file_too_large": _("Die Datei ist {size} groß; erlaubt sind höchstens {max}."),
        "file_too_large_limit": _("Die Datei ist zu groß: erlaubt sind höchstens {max}."),
        "duplicate": _(
            "Diese Datei wurde bereits am {received_at} für die BSNR {bsnr} und das Quartal "
            "{quarter} hochgeladen (Einreichung Nr. {id}, „{name}“). Eine identische Datei "
            "wird nicht ein zweites Mal angenommen."
        ),
        "besa_bsnr_mismatch": _(
            "Die Datei ist die Abrechnung der BSNR {found} (erste Betriebsstätte in den "
            "Betriebsstättendaten, Satzart besa), gewählt ist aber die BSNR {chosen}."
        ),
        "quarter_mismatch": _(
            "Die Datei enthält die Abrechnung für das Quartal {found} (Feld 9204), gewählt "
            "ist aber das Quartal {chosen}."
        ),
        "quarter_missing": _(
            "Das Abrechnungsquartal (Feld 9204) fehlt in der Datei; gewählt ist das "
            "Quartal {chosen}."
        ),
        "check_faulty": _(
            "Die Prüfung hat Fehler ergeben (Ergebnis 2 – fehlerhaft). Die KV kann diese "
            "Datei nicht verarbeiten. Bitte korrigieren Sie die Fehler in Ihrer "
            "Praxissoftware und reichen Sie die Datei neu ein."
        ),
        "check_aborted": _(
            "Die Prüfung wurde abgebrochen (Ergebnis 3): die Datei ist keine lesbare "
            "KVDT-Datei. Bitte erzeugen Sie die Abrechnung in Ihrer Praxissoftware neu."
        ),
        "check_internal": _(
            "Bei der Prüfung ist ein technischer Fehler aufgetreten. Bitte reichen Sie die "
            "Datei später erneut ein oder wenden Sie sich an die Abrechnungsabteilung."
        ),
        "check_superseded": _(
            "Die Prüfung dieser Datei wurde nicht abgeschlossen; dieselbe Datei wurde am "
            "{received_at} erneut hochgeladen (Einreichung Nr. {id}) und wird dort geprüft."
        ),
        "test_run_plain_only": _(
            "„{name}“ ist verschlüsselt (.con.xkm) und kann nicht geprüft werden. Für die "
            "Testabrechnung laden Sie bitte die unverschlüsselte KVDT-Datei (.con) hoch."
        ),
        "recheck_not_allowed": _(
            "Die Einreichung Nr. {id} kann nicht erneut geprüft werden: ihre Prüfung läuft "
            "noch, ist regulär abgeschlossen oder die Datei ist nicht mehr vorhanden."
        ),
        "window_early_after_start": _(
            "„Vorzeitige Abgabe ab“ darf nicht nach dem Beginn der Abgabefrist liegen."
        ),
        "window_start_after_end": _(
            "Der Beginn der Abgabefrist darf nicht nach ihrem Ende liegen."
        ),
        "window_early_before_quarter": _(
            "Die vorzeitige Abgabe kann nicht vor Beginn des Quartals {quarter} liegen."
        ),
        "window_end_in_quarter": _(
            "Das Ende der Abgabefrist muss nach dem Ende des Quartals {quarter} liegen."
        ),
        "not_entitled": _(
            "Die Erklärung zur Abrechnung können nur unterschriftsberechtigte Ärzte "
            "(Vertragsarzt/Gesellschafter, Ärztlicher Leiter) der Betriebsstätte {bsnr} "
            "abgeben."
        ),
        "declaration_no_submission": _(
            "Für die BSNR {bsnr} und das Quartal {quarter} liegt keine angenommene "
            "Abrechnung vor. Die Erklärung zur Abrechnung bezieht sich auf eine angenommene "
            "Datei: Reichen Sie zuerst die Abrechnungsdatei ein – Sie können die Erklärung "
            "dabei gleich mitgeben; sie wird wirksam, sobald die Datei angenommen ist."
        ),
        "declaration_kv_rejected": _(
            "Die Abrechnung der BSNR {bsnr} für das Quartal {quarter} ist von der KV "
            "zurückgewiesen (Grund im Prüfprotokoll der Einreichung). Reichen Sie die "
            "korrigierte Datei ein; die Erklärung zur Abrechnung bezieht sich auf sie."
        ),
        "declaration_exists": _(
            "Die Erklärung zur Abrechnung für die BSNR {bsnr} und das Quartal {quarter} "
            "wurde bereits am {given_at} von {given_by} abgegeben."
        ),
    }


def _format_value(key: str, value):
    if isinstance(value, dt.datetime):
        from django.utils import timezone

        return timezone.localtime(value).strftime("%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if key in ("size", "max") and isinstance(value, int):
        return filesizeformat(value)
    return value


def text(problem: Problem | dict) -> str:
    """German message for a problem (or its stored dict form)."""
    if isinstance(problem, dict):
        code, params = problem.get("code", ""), problem.get("params") or {}
    else:
        code, params = problem.code, problem.params
    template = _texts().get(code)
    if template is None:
        return _("Nicht angenommen ({code}).").format(code=code)
    return template.format(**{k: _format_value(k, v) for k, v in params.items()})


def texts(problems) -> list[str]:
    return [text(p) for p in problems]


def stored(problem: Problem) -> dict:
    """JSON form of a problem for `Submission.problems` (dates as German strings)."""
    return {
        "code": problem.code,
        "params": {k: str(_format_value(k, v)) for k, v in problem.params.items()},
    }
