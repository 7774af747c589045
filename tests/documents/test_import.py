"""Import of a quarter: good rows, bad rows with reasons, re-run adds nothing; CLI, staff
page and staff API."""

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from kvportal.accounts.models import ApiToken, hash_token
from kvportal.audit.models import AccessLogEntry
from kvportal.documents import services
from kvportal.documents.models import Document
from kvportal.members.identifiers import make_lanr
from tests.documents.conftest import pdf

pytestmark = pytest.mark.django_db


def write_quarter(tmp_path, world, *, bad=True, fmt="csv"):
    w = world
    folder = tmp_path / "q1"
    folder.mkdir()
    (folder / "hb.pdf").write_bytes(pdf("Honorarbescheid 1/2026"))
    (folder / "a.pdf").write_bytes(pdf("Richtigstellung A"))
    (folder / "b.pdf").write_bytes(pdf("Richtigstellung B"))
    (folder / "kaputt.pdf").write_bytes(b"kein pdf")
    rows = [
        (
            "hb.pdf",
            w.mvz.bsnr,
            "",
            "12026",
            "Honorarbescheid",
            "Honorarbescheid 1/2026",
            "48.250,00",
        ),
        ("a.pdf", w.mvz.bsnr, w.doc_a.person.lanr, "12026", "Richtigstellung", "RS A 1/2026", ""),
        ("b.pdf", w.mvz.bsnr, w.doc_b.person.lanr, "12026", "Richtigstellung", "RS B 1/2026", ""),
    ]
    if bad:
        rows += [
            ("fehlt.pdf", w.mvz.bsnr, "", "12026", "Sonstiges", "Datei fehlt", ""),
            ("kaputt.pdf", w.mvz.bsnr, "", "12026", "Sonstiges", "Kein PDF", ""),
            ("hb.pdf", "951111100", "", "12026", "Honorarbescheid", "Unbekannte BSNR", ""),
            ("a.pdf", w.mvz.bsnr, make_lanr("777777", "01"), "12026", "Sonstiges", "Fremd", ""),
            ("a.pdf", w.mvz.bsnr, "", "12026", "Quatsch", "Typ", ""),
        ]
    if fmt == "csv":
        text = "Datei;BSNR;LANR;Quartal;Typ;Titel;Betrag\n" + "".join(
            ";".join(r) + "\n" for r in rows
        )
        (folder / "manifest.csv").write_text(text, encoding="utf-8")
    else:
        keys = ("file", "bsnr", "lanr", "quarter", "type", "title", "amount")
        (folder / "manifest.json").write_text(
            json.dumps([dict(zip(keys, r, strict=True)) for r in rows]), encoding="utf-8"
        )
    return folder


def _import(folder):
    from kvportal.documents.management.commands.documents import directory_opener

    manifest = next(folder.glob("manifest.*"))
    return services.import_manifest(
        actor=None,
        manifest=manifest.read_bytes(),
        manifest_name=manifest.name,
        open_file=directory_opener(folder),
    )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_import_good_and_bad_rows_then_rerun(world, tmp_path, fmt):
    before = Document.objects.count()
    folder = write_quarter(tmp_path, world, fmt=fmt)
    report = _import(folder)
    assert len(report.created) == 3
    assert Document.objects.count() == before + 3
    label = "Zeile" if fmt == "csv" else "Eintrag"
    first_bad = 5 if fmt == "csv" else 4
    messages = {e.row: str(e) for e in report.errors}
    assert sorted(messages) == list(range(first_bad, first_bad + 5))
    assert messages[first_bad] == f"{label} {first_bad}, Feld „Datei“: Die Datei „fehlt.pdf“ fehlt."
    assert "keine PDF-Datei" in messages[first_bad + 1]
    assert "951111100 ist im Arztregister nicht bekannt" in messages[first_bad + 2]
    assert "nicht zugeordnet" in messages[first_bad + 3]
    assert "kein bekannter Dokumenttyp" in messages[first_bad + 4]
    hb = Document.objects.get(title="Honorarbescheid 1/2026")
    assert hb.amount == Decimal("48250.00")
    assert hb.also_by_post is True  # seed 000: Honorarbescheid also goes by post
    rs = Document.objects.get(title="RS A 1/2026")
    assert rs.lanr == world.doc_a.person.lanr and rs.person == world.doc_a.person
    assert rs.also_by_post is False
    # re-run: nothing new, the three good rows are "already there"
    again = _import(folder)
    assert again.created == []
    assert len(again.existing) == 3
    assert Document.objects.count() == before + 3


def test_failing_row_leaves_no_file_behind(world, tmp_path, settings):
    folder = write_quarter(tmp_path, world)
    _import(folder)
    stored = {p.name for p in (settings.PRIVATE_ROOT / "documents").rglob("*.pdf")}
    names = {d.file.name.rsplit("/", 1)[-1] for d in Document.objects.all()}
    assert stored == names


def test_path_traversal_in_manifest_is_refused(world, tmp_path):
    folder = tmp_path / "q"
    folder.mkdir()
    (tmp_path / "secret.pdf").write_bytes(pdf("geheim"))
    (folder / "manifest.csv").write_text(
        f"Datei;BSNR;LANR;Quartal;Typ;Titel\n../secret.pdf;{world.mvz.bsnr};;12026;Sonstiges;x\n"
    )
    report = _import(folder)
    assert report.created == []
    assert "außerhalb" in str(report.errors[0])


def test_import_command(world, tmp_path, capsys):
    folder = write_quarter(tmp_path, world, bad=False)
    call_command("documents", "import", str(folder))
    assert "3 Dokument(e) angelegt, 0 bereits vorhanden" in capsys.readouterr().out
    call_command("documents", "import", str(folder))
    assert "0 Dokument(e) angelegt, 3 bereits vorhanden" in capsys.readouterr().out
    assert AccessLogEntry.objects.filter(object_type="documents.import").count() == 2


def test_import_command_reports_bad_rows_and_fails(world, tmp_path, capsys):
    folder = write_quarter(tmp_path, world)
    with pytest.raises(CommandError):
        call_command("documents", "import", str(folder))
    err = capsys.readouterr().err
    assert "Zeile 5, Feld „Datei“" in err


def test_import_command_without_manifest(tmp_path, db):
    with pytest.raises(CommandError, match="kein eindeutiges Manifest"):
        call_command("documents", "import", str(tmp_path))


def test_staff_import_page(world, tmp_path, staff_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    folder = write_quarter(tmp_path, world)
    client, _ = staff_client("Abrechnung")
    files = [
        SimpleUploadedFile(p.name, p.read_bytes(), "application/pdf")
        for p in sorted(folder.glob("*.pdf"))
    ]
    manifest = SimpleUploadedFile("manifest.csv", (folder / "manifest.csv").read_bytes())
    response = client.post(
        reverse("documents:staff_import"), {"manifest": manifest, "dateien": files}
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert len(report.created) == 3
    assert len(report.errors) == 5
    assert "Zeile 6, Feld „Datei“" in response.content.decode()


def test_staff_pages_need_the_abrechnung_role(world, staff_client, client):
    other, _ = staff_client("Arztregister")
    assert other.get(reverse("documents:staff_import")).status_code == 404
    client.force_login(world.traeger)
    assert client.get(reverse("documents:staff_upload")).status_code == 404


def test_staff_single_upload(world, staff_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client, staff = staff_client("Abrechnung")
    data = {
        "bsnr": world.mvz.bsnr,
        "lanr": world.doc_b.person.lanr,
        "quartal": "2/2026",
        "typ": "pruefprotokoll",
        "titel": "Prüfprotokoll B",
        "betrag": "",
        "datei": SimpleUploadedFile("p.pdf", pdf("Prüfprotokoll"), "application/pdf"),
    }
    response = client.post(reverse("documents:staff_upload"), data)
    assert response.status_code == 302
    doc = Document.objects.get(title="Prüfprotokoll B")
    assert doc.published_by == staff and doc.source == "upload"
    data["lanr"] = world.outsider.person.lanr
    data["datei"] = SimpleUploadedFile("p.pdf", pdf("x"), "application/pdf")
    response = client.post(reverse("documents:staff_upload"), data)
    assert response.status_code == 200
    assert "nicht zugeordnet" in response.content.decode()
    data["lanr"] = ""
    data["datei"] = SimpleUploadedFile("p.pdf", b"not a pdf", "application/pdf")
    data["titel"] = "Nochmal"
    response = client.post(reverse("documents:staff_upload"), data)
    assert response.status_code == 200
    assert "keine PDF-Datei" in response.content.decode()


def test_staff_api_import(world, tmp_path, staff_client, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    folder = write_quarter(tmp_path, world)
    _, staff = staff_client("Abrechnung")
    raw = "staff-import-token"
    ApiToken.objects.create(
        user=staff,
        name="Abrechnungssystem",
        prefix=raw[:8],
        token_hash=hash_token(raw),
        scopes=["documents_import"],
    )

    def post():
        files = [
            SimpleUploadedFile(p.name, p.read_bytes(), "application/pdf")
            for p in sorted(folder.glob("*.pdf"))
        ]
        manifest = SimpleUploadedFile("manifest.csv", (folder / "manifest.csv").read_bytes())
        return client.post(
            "/api/v1/documents/import",
            {"manifest": manifest, "dateien": files},
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    first = post()
    assert first.status_code == 207
    body = first.json()
    assert body["angelegt"] == 3 and body["fehlerhaft"] == 5
    assert body["fehler"][0]["feld"] == "Datei"
    second = post().json()
    assert second["angelegt"] == 0 and second["bereits_vorhanden"] == 3


def test_staff_api_import_refused_for_members(world, client):
    raw = "member-token"
    ApiToken.objects.create(
        user=world.traeger,
        name="x",
        prefix=raw[:8],
        token_hash=hash_token(raw),
        scopes=["documents_import", "documents"],
    )
    response = client.post("/api/v1/documents/import", {}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403
