"""The guided-service tests reuse the billing fixtures (practice, accounts, file pipeline)."""

from tests.billing.conftest import (  # noqa: F401 - fixtures
    doctor,
    employed,
    other_practice,
    practice,
    submit_file,
)
