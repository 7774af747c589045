"""The card's name against the registry's (eHBA login and QES signer): surname equal, the
card's first given name among the registry's given names — hyphenated names included."""

import pytest

from kvportal.ehba.services.card_login import names_match


@pytest.mark.parametrize(
    ("card_given", "card_surname", "given", "surname", "expected"),
    [
        ("Erika", "Muster", "Erika", "Muster", True),
        ("Erika Anna", "Muster", "Erika", "Muster", True),
        ("Anna", "Muster", "Erika Anna", "Muster", True),
        ("Hans-Peter", "Muster", "Hans-Peter", "Muster", True),
        ("Hans-Peter", "Muster", "Hans Peter", "Muster", True),
        ("Jörg", "Müßig", "Joerg", "Muessig", False),  # no transliteration guessing
        ("Jörg", "Müßig", "JÖRG", "MÜSSIG", True),
        ("Erika", "Muster", "Erika", "Mustermann", False),
        ("Peter", "Muster", "Hans-Peter", "Muster", True),
        ("Karl", "Muster", "Hans-Peter", "Muster", False),
        ("", "Muster", "Erika", "Muster", False),
    ],
)
def test_names_match(card_given, card_surname, given, surname, expected):
    assert (
        names_match(card_given=card_given, card_surname=card_surname, given=given, surname=surname)
        is expected
    )
