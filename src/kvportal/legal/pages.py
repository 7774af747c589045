"""The pages every page links in its footer (BITV 2.0 §§ 4, 7; § 5 DDG Impressum; Art. 13 DSGVO).

Their texts are the KV's: `legal/texte/<slug>.html`, overridable by a template of the same name
in the directory `KVPORTAL_CONTENT_DIR` (settings.LEGAL_CONTENT_DIR); the shipped texts are the
complete demo texts of the fictitious demo KV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class LegalPage:
    slug: str
    path: str
    title: StrOrPromise  # lazy: translated when rendered


PAGES: tuple[LegalPage, ...] = (
    LegalPage("impressum", "impressum/", _("Impressum")),
    LegalPage("datenschutz", "datenschutz/", _("Datenschutzerklärung")),
    LegalPage("barrierefreiheit", "barrierefreiheit/", _("Erklärung zur Barrierefreiheit")),
    LegalPage("kontakt", "kontakt/", _("Kontakt und Hotline")),
    LegalPage("hilfe", "hilfe/", _("Hilfe")),
    LegalPage("leichte_sprache", "leichte-sprache/", _("Leichte Sprache")),
)

BY_SLUG = {page.slug: page for page in PAGES}
