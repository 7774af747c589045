"""`publish_document` for other apps: validation, idempotency, audit; model/rules in step."""

import hashlib

import pytest

from kvportal.audit.models import AccessLogEntry, Activity
from kvportal.core.quarters import Quarter
from kvportal.core.registry import api_paths
from kvportal.documents import rules, services
from kvportal.documents.models import DocType, Document
from tests.documents.conftest import pdf

pytestmark = pytest.mark.django_db


def test_doc_types_of_model_and_rules_agree():
    assert dict(DocType.choices) == rules.DOC_TYPES


def _publish(world, **kw):
    args = {
        "actor": world.traeger,
        "betriebsstaette": world.mvz,
        "quarter": Quarter(2026, 2),
        "doc_type": "beschluss",
        "title": "Beschluss des Zulassungsausschusses",
        "content": pdf("Beschluss"),
        "notify": False,
    }
    args.update(kw)
    return services.publish_document(**args)


def test_publish_is_idempotent_and_audited(world):
    first = _publish(world)
    again = _publish(world)
    assert first.pk == again.pk
    assert Document.objects.filter(doc_type="beschluss").count() == 1
    entries = AccessLogEntry.objects.filter(activity=Activity.CREATE, object_id=str(first.pk))
    assert entries.count() == 1
    assert entries.get().bsnr == world.mvz.bsnr
    # other content for the same addressee is a new document
    assert _publish(world, content=pdf("Beschluss, berichtigt")).pk != first.pk
    assert first.sha256 == hashlib.sha256(pdf("Beschluss")).hexdigest()
    assert first.file.read().startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"content": b"GIF89a"}, "file", "keine PDF"),
        ({"content": b""}, "file", "leer"),
        ({"lanr": "123456789"}, "lanr", "Prüfziffer"),
        ({"doc_type": "Liebesbrief"}, "doc_type", "kein bekannter Dokumenttyp"),
        ({"title": "  "}, "title", "Titel fehlt"),
        ({"quarter": "5/2026"}, "quarter", "Quartal"),
    ],
)
def test_publish_rejects_bad_input_in_german(world, kw, field, text):
    with pytest.raises(services.DocumentError, match=text) as info:
        _publish(world, **kw)
    assert info.value.field == field
    assert not Document.objects.filter(doc_type="beschluss").exists()


def test_openapi_paths_registered():
    paths = api_paths()
    assert "/documents/" in paths and "/documents/{id}/download" in paths
