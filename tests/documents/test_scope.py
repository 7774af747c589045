"""The two document rights with several doctors of one MVZ: lists, downloads, search, counts
and the API all show exactly the same set."""

import pytest
from django.urls import reverse

from kvportal.accounts.constants import Right
from kvportal.accounts.models import ApiToken, hash_token
from kvportal.documents import selectors
from kvportal.members.constants import Role
from tests.documents.conftest import Q2
from tests.factories import TaetigkeitFactory, grant

pytestmark = pytest.mark.django_db


def ids(qs):
    return {d.pk for d in qs}


def test_selectors_follow_the_two_rights(world):
    w = world
    assert ids(selectors.visible_documents(w.traeger)) == {w.bsnr_doc.pk, w.a_doc.pk, w.b_doc.pk}
    assert ids(selectors.visible_documents(w.doc_a)) == {w.a_doc.pk}
    assert ids(selectors.visible_documents(w.doc_b)) == {w.b_doc.pk}
    assert ids(selectors.visible_documents(w.no_docs)) == set()
    assert ids(selectors.visible_documents(w.outsider)) == {w.other_doc.pk}


def test_search_and_counts_respect_rights(world):
    w = world
    # "Richtigstellung" matches both doctors' documents, each sees only his own
    assert ids(selectors.search_documents(w.doc_a, text="richtigstellung")) == {w.a_doc.pk}
    assert selectors.search_documents(w.traeger, text="richtigstellung").count() == 2
    assert selectors.search_documents(w.no_docs, text="").count() == 0
    # a BSNR filter for a practice without rights gives nothing, not an error
    assert selectors.search_documents(w.doc_a, bsnr=w.other.bsnr).count() == 0
    assert selectors.unread_count(w.doc_a) == 1
    assert selectors.unread_count(w.traeger) == 3


def test_own_lanr_right_is_bound_to_the_bsnr(world):
    """Doctor A also works at the other practice, without rights there: his LANR documents
    of that practice stay hidden."""
    w = world
    TaetigkeitFactory(person=w.doc_a.person, betriebsstaette=w.other, role=Role.ANGESTELLT)
    from kvportal.documents import services
    from tests.documents.conftest import pdf

    elsewhere = services.publish_document(
        actor=None,
        betriebsstaette=w.other,
        quarter=Q2,
        doc_type="sonstiges",
        title="Arzt A woanders",
        content=pdf("x"),
        lanr=w.doc_a.person.lanr,
        notify=False,
    )
    assert elsewhere.pk not in ids(selectors.visible_documents(w.doc_a))
    grant(w.doc_a, w.other, Right.DOCS_LANR)
    assert elsewhere.pk in ids(selectors.visible_documents(w.doc_a))


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("traeger", {"bsnr_doc", "a_doc", "b_doc"}),
        ("doc_a", {"a_doc"}),
        ("doc_b", {"b_doc"}),
        ("no_docs", set()),
    ],
)
def test_list_detail_and_download_pages(world, client, who, visible):
    w = world
    client.force_login(getattr(w, who))
    response = client.get(reverse("documents:list"))
    assert response.status_code == 200
    listed = {row.pk for row in response.context["page"].object_list}
    all_docs = {"bsnr_doc", "a_doc", "b_doc", "other_doc"}
    assert listed == {getattr(w, k).pk for k in visible}
    assert response.context["page"].paginator.count == len(visible)
    for key in all_docs:
        doc = getattr(w, key)
        detail = client.get(reverse("documents:detail", args=[doc.pk]))
        download = client.get(reverse("documents:download", args=[doc.pk]))
        if key in visible:
            assert detail.status_code == 200
            assert download.status_code == 200
            assert b"".join(download.streaming_content).startswith(b"%PDF-")
        else:
            assert detail.status_code == 404
            assert download.status_code == 404


def test_search_page_counts(world, client):
    client.force_login(world.doc_a)
    response = client.get(reverse("documents:list"), {"suche": "Richtigstellung"})
    assert response.context["page"].paginator.count == 1
    assert "Arzt B" not in response.content.decode()


def _token(user, scopes=("documents",)):
    raw = f"tok-{user.pk}-secret"
    ApiToken.objects.create(
        user=user, name="PVS", prefix=raw[:8], token_hash=hash_token(raw), scopes=list(scopes)
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.parametrize(
    ("who", "visible"),
    [("traeger", {"bsnr_doc", "a_doc", "b_doc"}), ("doc_a", {"a_doc"}), ("no_docs", set())],
)
def test_api_list_and_download(world, client, who, visible):
    w = world
    headers = _token(getattr(w, who))
    data = client.get("/api/v1/documents/", **headers).json()
    assert data["anzahl"] == len(visible)
    assert {d["id"] for d in data["dokumente"]} == {getattr(w, k).pk for k in visible}
    for key in ("bsnr_doc", "a_doc", "b_doc", "other_doc"):
        doc = getattr(w, key)
        response = client.get(f"/api/v1/documents/{doc.pk}/download", **headers)
        assert response.status_code == (200 if key in visible else 404)
        meta = client.get(f"/api/v1/documents/{doc.pk}", **headers)
        assert meta.status_code == (200 if key in visible else 404)


def test_api_search_filter_and_errors(world, client):
    headers = _token(world.traeger)
    data = client.get("/api/v1/documents/?suche=arzt&quartal=12026", **headers).json()
    assert data["anzahl"] == 2
    from kvportal.audit.models import AccessLogEntry

    entry = AccessLogEntry.objects.get(object_type="documents.list", user=world.traeger)
    assert entry.detail == {"via": "api", "suche": "arzt", "quartal": "12026"}
    bad = client.get("/api/v1/documents/?quartal=92026", **headers)
    assert bad.status_code == 400
    assert "Quartal" in bad.json()["fehler"]
    assert client.get("/api/v1/documents/").status_code == 401


def test_api_token_needs_documents_scope(world, client):
    headers = _token(world.traeger, scopes=("billing",))
    response = client.get("/api/v1/documents/", **headers)
    assert response.status_code == 403
