"""Every PDF the portal produces is tagged (BITV 2.0): structure tree, language, title —
PDF/A-3a for archived documents, PDF/UA-1 for the rest — and carries the one letterhead
(issue 14 point 6, `core/pdf/_letterhead.html`) naming the demo KV or the body that sends it.
Every producer renders through `kvportal.core.pdf.render_pdf`; the list below names them all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings

import kvportal
from kvportal.core.pdf import LETTERHEAD_MARK, pdf_structure, pdf_text, render_html, render_pdf

ROOT = Path(kvportal.__file__).parent
PDF_TEMPLATES = sorted(
    str(p.relative_to(p.parents[2]))
    for p in ROOT.glob("*/templates/*/pdf/*.html")
    if not p.name.startswith("_")
)


#: the smallest context a template needs to render at all
_LETTER = {"recipient_name": "Dr. Test", "salutation_name": "Dr. Test"}
CONTEXTS = {
    "access/pdf/credential_letter.html": {"letter": _LETTER},
    "access/pdf/credential_batch.html": {"letters": [_LETTER, _LETTER]},
}


#: Every place that produces a PDF (module: function → template); a new producer is added here.
#: The eHBA signs the PDFs of its signables (admission application/Anlage 1, the billing
#: declaration, the eArztbrief, the eSE) and produces none of its own.
PDF_PRODUCERS = [
    ("access/pdf.py:application_pdf", "access/pdf/application.html"),
    ("access/pdf.py:letters_pdf", "access/pdf/credential_letter.html"),
    ("access/pdf.py:letters_pdf", "access/pdf/credential_batch.html"),
    ("selfservice/letters.py:praxispersonal_letter_pdf", "access/pdf/credential_letter.html"),
    ("admission/pdfs.py:application_pdf", "admission/pdf/application.html"),
    ("admission/pdfs.py:anlage1_pdf", "admission/pdf/anlage1.html"),
    ("admission/pdfs.py:fee_request_pdf", "admission/pdf/fee_request.html"),
    ("admission/pdfs.py:decision_pdf", "admission/pdf/decision.html"),
    ("admission/pdfs.py:admin_fee_pdf", "admission/pdf/admin_fee.html"),
    ("admission/pdfs.py:agenda_pdf", "admission/pdf/agenda.html"),
    ("billing/views.py:protocol_pdf_response", "billing/pdf/protocol.html"),
    ("billing/views.py:receipt_pdf_response", "billing/pdf/receipt.html"),
    ("billing/views.py:declaration_pdf", "billing/pdf/declaration.html"),
    ("billing/signing.py:render", "billing/pdf/erklaerung_qes.html"),
    ("kim/services_letters.py:credentials_pdf", "kim/pdf/credentials.html"),
    ("kim/services_letters.py:pin_letter_pdf", "kim/pdf/pin_letter.html"),
    ("arztbrief/letters.py:render_letter", "arztbrief/pdf/brief.html"),
    ("oneclick/ese_services.py:render_pdf", "oneclick/pdf/ese.html"),
]
#: The names a letterhead may carry: the KV, or the committee the admission PDFs come from.
LETTERHEAD_NAMES = (settings.KV_NAME, "Zulassungsausschüsse Ärzte Sachsen")


class _Calls(ast.NodeVisitor):
    """The render_pdf calls of a module with their innermost enclosing function."""

    def __init__(self, module: str) -> None:
        self.module, self.stack, self.calls = module, ["<module>"], []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name == "render_pdf" and node.args:
            first = node.args[0]
            template = first.value if isinstance(first, ast.Constant) else "?"
            self.calls.append((self.module, self.stack[-1], str(template)))
        self.generic_visit(node)


def _render_pdf_calls() -> list[tuple[str, str, str]]:
    """(module, enclosing function, template literal or '?') of every render_pdf call in src."""
    calls = []
    for path in sorted(ROOT.rglob("*.py")):
        module = str(path.relative_to(ROOT))
        if module == "core/pdf.py":
            continue
        visitor = _Calls(module)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        calls += visitor.calls
    return calls


def test_every_pdf_template_is_found():
    assert len(PDF_TEMPLATES) >= 10  # access, admission, billing, ehba
    produced = {template for _producer, template in PDF_PRODUCERS}
    assert produced == set(PDF_TEMPLATES), "a PDF template without producer"


def test_every_producer_is_listed_and_renders_through_core_pdf():
    calls = _render_pdf_calls()
    found = {(f"{module}:{func}", template) for module, func, template in calls if template != "?"}
    assert found - set(PDF_PRODUCERS) == set(), "a PDF producer missing from PDF_PRODUCERS"
    # calls without a template literal are calls of a producer (the eSE's own render_pdf)
    assert {m for m, _f, t in calls if t == "?"} <= {"oneclick/ese_services.py"}
    for key, _template in PDF_PRODUCERS:
        module, function = key.split(":")
        source = (ROOT / module).read_text(encoding="utf-8")
        assert f"def {function}(" in source, f"{key}: no such producer"
    # WeasyPrint is used by kvportal.core.pdf only (fonts, tags, letterhead in one place)
    users = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if "weasyprint" in p.read_text(encoding="utf-8")
    ]
    assert users == ["core/pdf.py"]


def test_the_check_finds_a_producer_that_is_not_listed(tmp_path, monkeypatch):
    """The scan can fail: a module rendering a new template is reported."""
    fake = tmp_path / "kvportal"
    (fake / "newapp").mkdir(parents=True)
    (fake / "newapp" / "letters.py").write_text(
        "def letter():\n    return render_pdf('newapp/pdf/letter.html', {})\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake)
    assert _render_pdf_calls() == [("newapp/letters.py", "letter", "newapp/pdf/letter.html")]


@pytest.mark.django_db
@pytest.mark.parametrize("template", PDF_TEMPLATES)
def test_every_pdf_has_the_one_letterhead_first(template):
    html = render_html(template, CONTEXTS.get(template, {}))
    assert LETTERHEAD_MARK in html, f"{template}: no letterhead"
    assert html.index(LETTERHEAD_MARK) < html.index("<h1"), f"{template}: letterhead not first"
    assert 'class="letterhead-name"' in html


@pytest.mark.django_db
def test_a_template_without_letterhead_gets_the_one_letterhead(settings):
    templates = [dict(settings.TEMPLATES[0])]
    options = dict(templates[0].get("OPTIONS", {}))
    options.pop("loaders", None)
    templates[0]["APP_DIRS"] = False
    options["loaders"] = [
        (
            "django.template.loaders.locmem.Loader",
            {"bare.html": '<html lang="de"><head><title>T</title></head><body><h1>X</h1></body>'},
        ),
        "django.template.loaders.app_directories.Loader",
    ]
    templates[0]["OPTIONS"] = options
    settings.TEMPLATES = templates
    html = render_html("bare.html", {})
    assert html.count(LETTERHEAD_MARK) == 1
    assert html.index("<body>") < html.index(LETTERHEAD_MARK) < html.index("<h1>")
    assert settings.KV_NAME in html


@pytest.mark.django_db
@pytest.mark.parametrize("template", PDF_TEMPLATES)
@pytest.mark.parametrize("pdf_a", [True, False])
def test_pdf_is_tagged_with_language_and_title(template, pdf_a):
    content = render_pdf(template, CONTEXTS.get(template, {}), pdf_a=pdf_a)
    structure = pdf_structure(content)
    assert structure["tagged"], f"{template}: not tagged"
    assert structure["roles"], f"{template}: empty structure tree"
    assert structure["lang"].lower().startswith("de"), f"{template}: no language"
    assert structure["title"].strip(), f"{template}: no title"
    if pdf_a:
        assert structure["pdfa"] == "3a", f"{template}: not PDF/A-3a"
        text = pdf_text(content)
        assert any(name in text for name in LETTERHEAD_NAMES), f"{template}: no letterhead"
    else:
        assert structure["pdfua"], f"{template}: not PDF/UA"


def test_untagged_pdf_is_recognised():
    """The check itself can fail: a plain pypdf page has no structure tree."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    out = io.BytesIO()
    writer.write(out)
    structure = pdf_structure(out.getvalue())
    assert not structure["tagged"] and not structure["roles"]
