"""docs/kvdt.md lists every rule the validator knows, and its coverage table is true."""

import re
from pathlib import Path

from kvportal.kvdt import INJECTABLE, RULES
from kvportal.kvdt.messages import MASTER_DATA_RULES, NOT_APPLICABLE_RULES, OPEN_RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "kvdt.md"
ROW = re.compile(r"^\| `([^`]+)` \| (implementiert|Stammdaten|offen|nicht anwendbar) \|", re.M)


def test_every_rule_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [rule for rule in RULES if f"`{rule}`" not in text]
    assert missing == []


def test_every_injectable_rule_is_a_rule():
    assert set(INJECTABLE) <= set(RULES)


def test_coverage_table_matches_the_code():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Abdeckung") :]
    table: dict[str, set[str]] = {}
    for rule, state in ROW.findall(section):
        table.setdefault(state, set()).add(rule)
    kbv = {r for r in RULES if r[0].isdigit() or r.startswith("KVDT-")}
    assert table["implementiert"] == kbv
    assert table["Stammdaten"] == set(MASTER_DATA_RULES)
    assert table["offen"] == set(OPEN_RULES)
    assert table["nicht anwendbar"] == set(NOT_APPLICABLE_RULES)
    # a rule has one state only
    assert sum(len(v) for v in table.values()) == len(set().union(*table.values()))
