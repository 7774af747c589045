"""The card library's boundaries: Django-free, and the production verifiers (certificate
profiles, login token, PDF signatures, OCSP client) load neither the test CA nor the software
card. Checked in a fresh interpreter (the import contracts in pyproject.toml say the same)."""

from __future__ import annotations

import json
import subprocess
import sys

VERIFIERS = [
    "kvportal.cardlib.certs",
    "kvportal.cardlib.tokens",
    "kvportal.cardlib.validation",
    "kvportal.cardlib.ocsp",
]
CARD_SIDE = [
    "kvportal.cardlib.testpki",
    "kvportal.cardlib.softcard",
    "kvportal.cardlib.ocsp_server",
]
ALL = [
    *VERIFIERS,
    *CARD_SIDE,
    "kvportal.cardlib.signing",
    "kvportal.cardlib.pkcs11",
    "kvportal.cardlib.agent",
    "kvportal.cardlib.cli",
]


def loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout))


def test_verifiers_do_not_load_the_test_ca_or_the_software_card():
    loaded = loaded_after_import(VERIFIERS)
    assert set(VERIFIERS) <= loaded
    assert not loaded & set(CARD_SIDE)


def test_card_library_is_django_free():
    loaded = loaded_after_import(ALL)
    assert set(ALL) <= loaded
    assert not {m for m in loaded if m == "django" or m.startswith("django.")}
    assert not {m for m in loaded if m.startswith("kvportal.ehba")}
