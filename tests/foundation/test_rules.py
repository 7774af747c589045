import datetime as dt

import pytest

from kvportal.accounts import rules
from kvportal.core.quarters import Quarter


@pytest.mark.parametrize(
    ("changed", "opens"),
    [
        (dt.date(2026, 3, 31), Quarter(2026, 2)),
        (dt.date(2026, 4, 1), Quarter(2026, 3)),
        (dt.date(2026, 12, 31), Quarter(2027, 1)),
        (dt.date(2027, 1, 1), Quarter(2027, 2)),
    ],
)
def test_billing_opens_in_the_quarter_after_the_first_password_change(changed, opens):
    assert rules.billing_opens_quarter(changed) == opens
    assert rules.billing_is_open(changed, opens)
    assert not rules.billing_is_open(changed, opens.previous())
    assert rules.billing_is_open(changed, opens.next())


def test_billing_closed_without_password_change():
    assert not rules.billing_is_open(None, Quarter(2030, 1))


def test_aerztlicher_leiter_with_portal_access_always_has_billing():
    assert rules.effective_rights({"docs_lanr"}, is_aerztlicher_leiter=True) == {
        "docs_lanr",
        "billing",
    }
    # without any portal access the rule grants nothing
    assert rules.effective_rights(set(), is_aerztlicher_leiter=True) == set()
    assert rules.effective_rights({"docs_lanr"}, is_aerztlicher_leiter=False) == {"docs_lanr"}


@pytest.mark.parametrize(
    ("actor_staff", "held", "target_staff", "right", "allowed"),
    [
        (False, {"billing"}, True, "billing", True),
        (False, {"docs_bsnr"}, True, "docs_bsnr", True),
        (False, {"docs_bsnr"}, True, "billing", False),  # not held
        (False, {"docs_lanr"}, True, "docs_lanr", False),  # personal right
        (True, {"billing"}, True, "billing", False),  # Praxispersonal cannot delegate
        (False, {"billing"}, False, "billing", False),  # only to Praxispersonal accounts
    ],
)
def test_delegation(actor_staff, held, target_staff, right, allowed):
    errors = rules.delegation_errors(
        actor_is_staff_account=actor_staff,
        actor_rights=held,
        target_is_staff_account=target_staff,
        right=right,
    )
    assert (errors == []) is allowed


def test_quarter_parsing_and_bounds():
    q = Quarter.parse("42026")
    assert (q.start, q.end) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert q.next() == Quarter(2027, 1) and Quarter(2027, 1).previous() == q
    assert Quarter.parse("3/2026") == Quarter.parse("2026-3") == Quarter(2026, 3)
    assert q.kvdt == "42026" and str(q) == "4/2026"
    with pytest.raises(ValueError, match="kein gültiges Quartal"):
        Quarter.parse("52026x")
    with pytest.raises(ValueError, match="Quartal 5"):
        Quarter.parse("52026")
