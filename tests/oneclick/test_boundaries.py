"""The Begleitdatei module and the 86900/86901 rules are Django-free (architecture: pure domain
rules), checked in a fresh interpreter — also after actually parsing a Begleitdatei."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parent / "fixtures" / "Beispiel_begleitdatei_abrechnung.xml"


def test_begleitdatei_and_rules_load_no_django():
    code = (
        "import sys, pathlib\n"
        "from kvportal.oneclick import begleitdatei\n"
        "from kvportal.arztbrief import rules\n"
        f"begleitdatei.parse(pathlib.Path({str(EXAMPLE)!r}).read_bytes())\n"
        "rules.check_earztbrief(counted={}, billed={'1': {'86900': 1}})\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
