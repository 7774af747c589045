"""Issue 14: a `de` gettext catalogue for the UI strings, compiled `.mo` committed (no gettext
binary needed at runtime)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

LOCALE = Path(settings.LOCALE_PATHS[0]) / "de" / "LC_MESSAGES"
MSGID = re.compile(r'^msgid "(.+)"$', re.M)


def _catalogue() -> dict:
    with (LOCALE / "django.mo").open("rb") as handle:
        return gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]


def test_catalogue_is_german_and_compiled():
    po = (LOCALE / "django.po").read_text(encoding="utf-8")
    assert '"Language: de\\n"' in po and "nplurals=2; plural=(n != 1);" in po
    catalogue = _catalogue()
    singular = {k for k in catalogue if isinstance(k, str) and k}
    plural = {k[0] for k in catalogue if isinstance(k, tuple)}
    # every one-line msgid of the .po is in the committed .mo (the .mo is not stale)
    missing = [m for m in MSGID.findall(po) if m.replace('\\"', '"') not in singular | plural]
    assert not missing, missing[:10]


@pytest.mark.parametrize(
    "text",
    [
        "Betriebsstätten im Arztregister",
        "Folgen dieser Entscheidung:",
        "Checkliste: Das brauchen Sie",
    ],
)
def test_new_ui_strings_are_in_the_catalogue(text):
    assert text in _catalogue()


def test_plural_forms_resolve_through_the_catalogue():
    with translation.override("de"):
        one = translation.ngettext("%(n)d neues Dokument lesen", "%(n)d neue Dokumente lesen", 1)
        many = translation.ngettext("%(n)d neues Dokument lesen", "%(n)d neue Dokumente lesen", 3)
    assert one.startswith("%(n)d neues") and many.startswith("%(n)d neue Dokumente")
    assert ("%(n)d neues Dokument lesen", 1) in _catalogue()


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="gettext (msgfmt) not installed")
def test_po_compiles_cleanly(tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "x.mo"), str(LOCALE / "django.po")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_entry_repeats_its_german_msgid():
    """msgids are German: a different msgstr is a stale fuzzy match, not a translation."""
    wrong = [k for k, v in _catalogue().items() if isinstance(k, str) and k and k != v]
    assert not wrong, wrong[:5]
