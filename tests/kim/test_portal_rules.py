"""Pure KIM portal rules (no database): addresses, AccountLimit.yaml ranges, deregistration,
retention, PIN.SMC/PUK counters, Telematik-ID, state transitions."""

from __future__ import annotations

import datetime as dt

import pytest

from kvportal.kim import rules


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("Praxis Müller", "praxis-mueller"),
        ("Gemeinschaftspraxis Dr. Weiß & Kollegen", "gemeinschaftspraxis-dr-weiss-kollegen"),
        ("MVZ Öhringen-Süd GmbH", "mvz-oehringen-sued-gmbh"),
        ("  ---  ", "kim"),
        ("Café Noël", "cafe-noel"),
    ],
)
def test_local_part_from_name(name, local):
    assert rules.local_part_for(name) == local
    assert rules.check_local_part(local) is None


def test_local_part_is_at_most_64_characters():
    local = rules.local_part_for("Praxis " + "sehr lang " * 20)
    assert len(local) <= 64
    assert not local.endswith("-")


@pytest.mark.parametrize("bad", ["", "-praxis", "praxis-", "Praxis", "pra xis", "a..b", "x@y"])
def test_bad_local_parts_are_refused_in_german(bad):
    assert "@" in rules.check_local_part(bad) or "Punkte" in rules.check_local_part(bad)


def test_address_and_domain():
    assert rules.address("praxis-mueller", "kv-sachsen.kim.example") == (
        "praxis-mueller@kv-sachsen.kim.example"
    )
    with pytest.raises(ValueError, match="Domain"):
        rules.address("praxis", "localhost")


def test_unique_local_part_counts_up():
    assert rules.unique_local_part("praxis", set()) == "praxis"
    assert rules.unique_local_part("praxis", {"praxis", "praxis-2"}) == "praxis-3"


def test_limits_default_follow_account_limit_yaml():
    limits = rules.Limits()
    assert limits.data_time_to_live == 90  # AccountLimit.yaml default
    assert limits.max_mail_size == 734003200  # AccountLimit.yaml minimum
    assert rules.check_limits(limits) == {}


@pytest.mark.parametrize(
    ("ttl", "ok"), [(9, False), (10, True), (90, True), (365, True), (366, False)]
)
def test_data_time_to_live_between_10_and_365_days(ttl, ok):
    errors = rules.check_limits(rules.Limits(data_time_to_live=ttl))
    assert ("data_time_to_live" not in errors) is ok


def test_max_mail_size_at_least_700_mib_and_quota_unlimited_or_large_enough():
    errors = rules.check_limits(rules.Limits(max_mail_size=734003199))
    assert "700 MiB" in errors["max_mail_size"]
    assert rules.check_limits(rules.Limits(quota=-1)) == {}
    assert "quota" in rules.check_limits(rules.Limits(quota=1000))


def test_deregistration_grace_period_and_usability():
    now = dt.datetime.now(dt.UTC)
    until = rules.deregistration_date(now)
    assert until - now == dt.timedelta(days=rules.DEREGISTRATION_GRACE_DAYS)
    assert rules.account_usable("deregistering", until, now + dt.timedelta(days=1))
    assert not rules.account_usable("deregistering", until, until)
    assert rules.account_usable("registered", None, now)
    assert not rules.account_usable("requested", None, now)
    assert not rules.account_usable("deregistered", until, now)


def test_retention_by_data_time_to_live():
    now = dt.datetime.now(dt.UTC)
    assert rules.is_expired(now - dt.timedelta(days=91), now, 90)
    assert not rules.is_expired(now - dt.timedelta(days=89), now, 90)
    assert rules.is_expired(now - dt.timedelta(days=11), now, 10)


def test_three_pin_tries_then_blocked_puk_unblocks():
    counter = rules.PinCounter()
    for _ in range(3):
        assert not counter.pin_blocked
        counter = rules.after_pin(counter, correct=False)
    assert counter.pin_blocked
    # a right PIN does not help once blocked
    assert rules.after_pin(counter, correct=True).pin_blocked
    counter = rules.after_puk(counter, correct=True)
    assert counter.pin_tries_left == 3 and counter.puk_uses_left == 9


def test_right_pin_resets_tries_and_puk_is_used_up_after_ten():
    counter = rules.after_pin(rules.after_pin(rules.PinCounter(), False), True)
    assert counter.pin_tries_left == 3
    for _ in range(10):
        counter = rules.after_puk(counter, correct=False)
    assert counter.puk_blocked
    assert rules.after_puk(counter, correct=True).pin_tries_left == counter.pin_tries_left


@pytest.mark.parametrize(
    ("pin", "ok"),
    [
        ("482913", True),
        ("48291375", True),
        ("12345", False),
        ("123456789", False),
        ("123456", False),
        ("111111", False),
        ("654321", False),
        ("48a913", False),
    ],
)
def test_pin_format(pin, ok):
    assert (rules.check_pin(pin) is None) is ok


def test_practice_telematik_id_has_prefix_1():
    tid = rules.practice_telematik_id("123456700")
    assert tid.startswith("1-") and "123456700" in tid
    assert rules.check_telematik_id(tid) is None
    with pytest.raises(ValueError):
        rules.practice_telematik_id("12345")
    assert rules.check_telematik_id("x" * 130) is not None


def test_state_transitions():
    assert rules.can_move(rules.ORDER_TRANSITIONS, "requested", "confirmed")
    assert not rules.can_move(rules.ORDER_TRANSITIONS, "requested", "issued")
    assert not rules.can_move(rules.ORDER_TRANSITIONS, "refused", "confirmed")
    assert rules.can_move(rules.ACCOUNT_TRANSITIONS, "deregistering", "registered")
    assert not rules.can_move(rules.ACCOUNT_TRANSITIONS, "deregistered", "registered")
