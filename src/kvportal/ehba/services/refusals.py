# Security: every refusal of a card login or registration has a reason code for the access log.
"""Why a card login/registration is refused, with the German message the user sees."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from kvportal.ehba.services.common import challenge_seconds

#: Every reason a card login/registration is refused, with the German message the user sees.
REFUSALS: dict[str, str] = {
    "unknown_card": (
        "Diese Karte ist im Portal nicht registriert. Bitte melden Sie sich einmal mit "
        "Benutzername und Passwort an und registrieren Sie Ihren eHBA unter „eHBA registrieren“ "
        "(nach einem Kartenwechsel ist die Folgekarte erneut zu registrieren)."
    ),
    "wrong_ca": (
        "Das Kartenzertifikat stammt nicht von einer vom Portal anerkannten "
        "Heilberufsausweis-CA. Bitte verwenden Sie Ihren elektronischen Heilberufsausweis."
    ),
    "expired": (
        "Das Zertifikat Ihres eHBA ist abgelaufen. Bitte verwenden Sie Ihre Folgekarte und "
        "registrieren Sie sie nach der Anmeldung mit Passwort erneut."
    ),
    "not_yet_valid": "Das Zertifikat Ihres eHBA ist noch nicht gültig.",
    "revoked": (
        "Ihr eHBA ist gesperrt (Zertifikat widerrufen). Eine gesperrte Karte kann nicht mehr "
        "verwendet werden; bitte nutzen Sie Ihre Ersatz- oder Folgekarte."
    ),
    "revocation_unknown": (
        "Der Sperrstatus Ihres eHBA konnte nicht geprüft werden. Bitte versuchen Sie es später "
        "erneut."
    ),
    "wrong_key_usage": (
        "Die Karte hat nicht mit ihrem Authentisierungsschlüssel (C.HP.AUT) signiert. Bitte "
        "verwenden Sie die Anmeldefunktion des Signatur-Agenten."
    ),
    "wrong_policy": (
        "Das Kartenzertifikat ist kein Authentisierungszertifikat eines Heilberufsausweises "
        "(C.HP.AUT)."
    ),
    "wrong_profession": (
        "Die Berufsgruppe auf der Karte ist für das Mitgliederportal nicht zugelassen (nur "
        "Ärztinnen/Ärzte und Psychotherapeutinnen/Psychotherapeuten)."
    ),
    "bad_signature": "Die Kartensignatur ist ungültig.",
    "malformed": "Die Antwort der Karte ist unvollständig oder beschädigt.",
    "wrong_challenge": (
        "Die Karte hat nicht die Anmeldeanfrage dieser Sitzung signiert (Signatur über "
        "etwas anderes). Bitte starten Sie die Anmeldung erneut."
    ),
    "replayed_challenge": (
        "Diese Anmeldeanfrage wurde bereits verwendet. Jede Anfrage gilt nur einmal – bitte "
        "starten Sie die Anmeldung erneut."
    ),
    "expired_challenge": (
        "Die Anmeldeanfrage ist abgelaufen (gültig {seconds} Sekunden). Bitte starten Sie die "
        "Anmeldung erneut."
    ),
    "no_challenge": (
        "Es liegt keine Anmeldeanfrage für diese Sitzung vor. Bitte starten Sie die Anmeldung "
        "erneut."
    ),
    "pin_blocked": (
        "Die PIN Ihres eHBA ist nach drei Fehleingaben gesperrt. Entsperren Sie sie mit der "
        "PUK (Signatur-Agent bzw. Kartensoftware); erst danach ist eine Anmeldung möglich."
    ),
    "pin_wrong": "Die PIN war falsch. Bitte versuchen Sie es erneut.",
    "transport_pin": (
        "Ihr eHBA ist noch mit der Transport-PIN geschützt. Bitte ändern Sie zuerst die "
        "Transport-PIN in eine persönliche PIN."
    ),
    "card_unusable": "Ihr eHBA ist dauerhaft unbrauchbar. Bitte beantragen Sie eine Ersatzkarte.",
    "no_card": "Der Signatur-Agent hat keinen eHBA gefunden. Bitte stecken Sie die Karte.",
    "cancelled": "Die Anmeldung wurde am Signatur-Agenten abgebrochen.",
    "agent_unreachable": (
        "Der Signatur-Agent ist nicht erreichbar. Bitte starten Sie „kvportal card agent“ "
        "auf diesem Rechner."
    ),
    "agent_error": "Der Signatur-Agent hat einen Fehler gemeldet.",
    "account_disabled": "Das Nutzerkonto zu dieser Karte ist deaktiviert.",
    "not_configured": (
        "Die Anmeldung mit eHBA ist in diesem Portal derzeit nicht eingerichtet (keine "
        "Vertrauensanker). Bitte melden Sie sich mit Benutzername und Passwort an."
    ),
    "other_account": "Diese Karte gehört nicht zu dem angemeldeten Nutzerkonto.",
    "not_member": (
        "Nur Ärztinnen/Ärzte und Psychotherapeutinnen/Psychotherapeuten mit eigenem "
        "Mitgliedskonto können einen eHBA registrieren."
    ),
    "other_person": (
        "Der Name auf der Karte ({card}) passt nicht zu Ihrem Eintrag im Arztregister "
        "({person}). Bitte registrieren Sie Ihren eigenen eHBA."
    ),
    "profession_mismatch": (
        "Die Berufsgruppe auf der Karte passt nicht zu Ihrem Eintrag im Arztregister."
    ),
    "taken": (
        "Diese Karte (Telematik-ID) ist bereits für eine andere Person registriert. Bitte "
        "wenden Sie sich an das Arztregister der KV."
    ),
}

#: Codes the agent may report (agent.AgentError.CODES) → refusal code.
AGENT_ERRORS = {
    "pin_blocked": "pin_blocked",
    "pin_wrong": "pin_wrong",
    "transport_pin": "transport_pin",
    "card_unusable": "card_unusable",
    "no_card": "no_card",
    "cancelled": "cancelled",
    "agent_unreachable": "agent_unreachable",
}


def refusal_message(code: str, **kwargs: Any) -> str:
    text = REFUSALS.get(code, REFUSALS["agent_error"])
    if code == "expired_challenge":
        kwargs.setdefault("seconds", challenge_seconds())
    return _(text).format(**kwargs) if kwargs else _(text)


class CardRefused(Exception):
    def __init__(self, code: str, message: str | None = None, **detail: Any):
        self.code = code
        self.message = message or refusal_message(code)
        self.detail = detail
        super().__init__(self.message)
