"""Password conventions (BSI IT-Grundschutz ORP.4.A8/A22, domain.md §4.3): adequate length and
character classes, not in a common-password list, no personal data, none of the last
PASSWORD_HISTORY_COUNT passwords (ORP.4.A8: no reuse). Shown to users and in
credential letters via `password_conventions()`."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError

MIN_LENGTH = 10
LONG_LENGTH = 20
MAX_LENGTH = 128


def _classes(password: str) -> int:
    checks = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(checks)


def password_conventions() -> list[str]:
    minimum = settings.PASSWORD_MIN_LENGTH
    return [
        f"mindestens {minimum} und höchstens {MAX_LENGTH} Zeichen;",
        "mindestens drei der vier Zeichenarten: Kleinbuchstaben, Großbuchstaben, Ziffern, "
        f"Sonderzeichen (ab {LONG_LENGTH} Zeichen genügen zwei, z. B. eine Wortfolge);",
        "Umlaute, ß und Leerzeichen sind erlaubt, Leerzeichen aber nicht am Anfang oder Ende;",
        "kein verbreitetes Passwort (z. B. aus bekannten Passwortlisten);",
        "weder Ihr Nutzername noch Ihr Vor- oder Nachname noch Ihre LANR;",
        f"keines Ihrer letzten {history_count()} Passwörter.",
    ]


def history_count() -> int:
    return settings.PASSWORD_HISTORY_COUNT


class LengthValidator:
    def validate(self, password: str, user=None) -> None:
        minimum = settings.PASSWORD_MIN_LENGTH
        if len(password) < minimum:
            raise ValidationError(
                f"Das Passwort ist zu kurz: mindestens {minimum} Zeichen.", code="too_short"
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                f"Das Passwort ist zu lang: höchstens {MAX_LENGTH} Zeichen.", code="too_long"
            )
        if password != password.strip():
            raise ValidationError(
                "Das Passwort darf nicht mit einem Leerzeichen beginnen oder enden.",
                code="spaces",
            )

    def get_help_text(self) -> str:
        return password_conventions()[0]


class CharacterClassValidator:
    def validate(self, password: str, user=None) -> None:
        needed = 2 if len(password) >= LONG_LENGTH else 3
        if _classes(password) < needed:
            raise ValidationError(
                f"Das Passwort muss mindestens {needed} der Zeichenarten Kleinbuchstaben, "
                "Großbuchstaben, Ziffern und Sonderzeichen enthalten.",
                code="classes",
            )

    def get_help_text(self) -> str:
        return password_conventions()[1]


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


class PersonalDataValidator:
    def validate(self, password: str, user=None) -> None:
        if user is None:
            return
        folded = _fold(password)
        candidates = [user.get_username(), user.first_name, user.last_name]
        person = getattr(user, "person", None)
        if person is not None:
            candidates += [person.first_name, person.last_name, person.lanr or ""]
        for value in candidates:
            for part in re.split(r"[\s.\-_]+", value or ""):
                if len(part) >= 3 and _fold(part) in folded:
                    raise ValidationError(
                        "Das Passwort darf weder Ihren Nutzernamen noch Ihren Namen noch Ihre "
                        "LANR enthalten.",
                        code="personal",
                    )

    def get_help_text(self) -> str:
        return password_conventions()[4]


#: Frequent German base words (our own short list) in addition to Django's common-password list.
GERMAN_BASE_WORDS = frozenset(
    """
    passwort kennwort hallo hallo123 schatz liebe sommer winter herbst fruehling fussball
    qwertz qwertzu asdfgh ichliebedich geheim dresden leipzig chemnitz sachsen praxis doktor
    arztpraxis mitgliederportal portal willkommen deutschland berlin hamburg muenchen mausi
    sonne blume katze hund schalke bayern
    """.split()
)


class CommonPasswordValidator:
    """Rejects passwords from Django's list of 20,000 common passwords and passwords that are
    only a common word with digits or special characters around it ("Passwort2024!")."""

    def __init__(self):
        from django.contrib.auth.password_validation import CommonPasswordValidator as Base

        self._base = Base()

    def validate(self, password: str, user=None) -> None:
        folded = _fold(password).replace("ß", "ss")
        core = re.sub(r"^[^a-z]+|[^a-z]+$", "", folded)
        words = self._base.passwords
        if folded.strip() in words or core in words or core in GERMAN_BASE_WORDS:
            raise ValidationError(
                "Dieses Passwort steht in Listen verbreiteter Passwörter oder besteht nur aus "
                "einem verbreiteten Wort mit Ziffern oder Sonderzeichen.",
                code="common",
            )

    def get_help_text(self) -> str:
        return password_conventions()[3]


class PasswordHistoryValidator:
    """A previous password cannot be reused: the last PASSWORD_HISTORY_COUNT passwords are
    the current one plus the stored hashes of those before (accounts.models.PasswordHistory)."""

    def validate(self, password: str, user=None) -> None:
        from django.contrib.auth.hashers import check_password

        if user is None or not getattr(user, "pk", None):
            return
        hashes = [user.password] if user.password else []
        hashes += list(
            user.password_history.values_list("password", flat=True)[: history_count() - 1]
        )
        # check_password without a setter: never re-hashes or saves as a side effect
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(
                f"Dieses Passwort haben Sie bereits verwendet. Bitte wählen Sie ein neues "
                f"Passwort, das keinem Ihrer letzten {history_count()} Passwörter entspricht.",
                code="reused",
            )

    def get_help_text(self) -> str:
        return password_conventions()[5]
