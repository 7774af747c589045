"""The card library's boundaries: Django-free, and the production verifiers (certificate
profiles, login token, PDF signatures, OCSP client) load neither the test CA nor the software
card. Checked in a fresh interpreter (the import contracts in pyproject.toml say the same)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contracts_are_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in ("Django-free", "Production verifiers", "Layers"):
        assert contract in result.stdout


def test_a_contract_breaks_on_a_forbidden_import(tmp_path):
    """The machinery sees real imports: the software card does import the test CA, so a
    contract forbidding exactly that must be reported broken (exit 1)."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        "[tool.importlinter]\n"
        'root_packages = ["kvportal"]\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "softcard without test CA"\n'
        'type = "forbidden"\n'
        'source_modules = ["kvportal.cardlib.softcard"]\n'
        'forbidden_modules = ["kvportal.cardlib.testpki"]\n'
    )
    result = lint_imports(str(config))
    assert result.returncode == 1
    assert "BROKEN" in result.stdout
    assert "kvportal.cardlib.softcard -> kvportal.cardlib.testpki" in result.stdout
