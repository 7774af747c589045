"""docs/kvdt.md lists every rule the validator knows, with its id."""

from pathlib import Path

from kvportal.kvdt import INJECTABLE, RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "kvdt.md"


def test_every_rule_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [rule for rule in RULES if f"`{rule}`" not in text]
    assert missing == []


def test_every_injectable_rule_is_a_rule():
    assert set(INJECTABLE) <= set(RULES)
