import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from kvportal.accounts.services import generate_initial_password
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    person = PersonFactory(first_name="Hannelore", last_name="Zimmermann", lanr="123456640")
    return UserFactory(
        username="zimmermann.h", person=person, first_name="Hannelore", last_name="Zimmermann"
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Kurz!1a", "zu kurz"),
        ("nurkleinbuchstaben", "Zeichenarten"),
        ("KleinundGrossohne", "Zeichenarten"),
        (" Leerzeichen-vorn1A", "Leerzeichen"),
        ("password123", "Zeichenarten"),
        ("Zimmermann-2026!", "Namen"),
        ("Xx-123456640-yY", "LANR"),
        ("Hannelore#2026x", "Namen"),
    ],
)
def test_password_rules_reject_with_german_reason(user, password, message):
    with pytest.raises(ValidationError) as exc:
        validate_password(password, user)
    assert any(message in m for m in exc.value.messages), exc.value.messages


@pytest.mark.parametrize(
    "password", ["Qwertyuiop1", "Password123!", "Passwort2024!", "#Sommer2026"]
)
def test_common_passwords_and_common_words_with_decoration_rejected(user, password):
    with pytest.raises(ValidationError) as exc:
        validate_password(password, user)
    assert any("verbreitete" in m for m in exc.value.messages)


@pytest.mark.parametrize(
    "password", ["Mond-Stern!7x", "ein langer satz aus wörtern 2", "Ärztekammer§9z"]
)
def test_good_passwords_pass(user, password):
    validate_password(password, user)


def test_generated_initial_passwords_meet_the_conventions(user):
    for _ in range(50):
        validate_password(generate_initial_password(), user)
