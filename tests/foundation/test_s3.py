"""The S3 option of the private storage (`KVPORTAL_PRIVATE_STORAGE=s3`, django-storages)
against a real S3 API: moto's standalone server on a local port, started here."""

from __future__ import annotations

import socket

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.utils import timezone
from django.utils.functional import empty

from kvportal.accounts.services import create_api_token
from kvportal.core.storage import private_storage
from tests.billing.conftest import ON_TIME, kvdt_file, std_name, upload

moto_server = pytest.importorskip("moto.server", reason="moto[server] ist nicht installiert")
boto3 = pytest.importorskip("boto3")

BUCKET = "kvportal-private-test"
MB = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port())
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint):
    """Private storage switched to S3 with a fresh bucket; the lazy storage is rebuilt."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="eu-central-1",
    )
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    settings.PRIVATE_STORAGE_BACKEND = "s3"
    settings.S3_PRIVATE = {
        **settings.S3_PRIVATE,
        "bucket_name": BUCKET,
        "endpoint_url": s3_endpoint,
        "access_key": "test",
        "secret_key": "test",
        "region_name": "eu-central-1",
    }
    private_storage._wrapped = empty
    yield client
    private_storage._wrapped = empty
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _keys(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_storage_is_s3_and_private(s3):
    name = private_storage.save("probe/a.txt", ContentFile(b"hallo"))
    assert type(private_storage._wrapped).__name__ == "S3Storage"
    assert _keys(s3) == [name]
    acl = s3.get_object_acl(Bucket=BUCKET, Key=name)
    assert not [g for g in acl["Grants"] if "AllUsers" in str(g.get("Grantee", {}))]
    with private_storage.open(name, "rb") as fh:
        assert fh.read() == b"hallo"


def test_name_in_use_gets_new_name_instead_of_overwriting(s3):
    first = private_storage.save("billing/x.con", ContentFile(b"eins"))
    second = private_storage.save("billing/x.con", ContentFile(b"zwei"))
    assert first != second
    with private_storage.open(first, "rb") as fh:
        assert fh.read() == b"eins"


def test_large_upload_is_multipart_and_download_spools_to_disk(s3):
    size = 9 * MB  # above boto3's 8 MB multipart threshold and the 2 MB memory limit
    tmp = TemporaryUploadedFile("gross.con", "application/octet-stream", size, None)
    pattern = bytes(range(256)) * 4096
    for _ in range(size // len(pattern)):
        tmp.write(pattern)
    tmp.seek(0)
    name = private_storage.save("billing/gross.con", tmp)
    head = s3.head_object(Bucket=BUCKET, Key=name)
    assert head["ContentLength"] == size
    assert "-" in head["ETag"], "upload sent in parts (streamed), not as one body"
    handle = private_storage.open(name, "rb")
    try:
        first = handle.read(len(pattern))
        assert first == pattern
        assert handle.file._rolled, "a large download spools to disk, not into memory"
    finally:
        handle.close()


def test_billing_upload_check_and_download_through_s3(
    s3, client, db, django_capture_on_commit_callbacks, staff_client
):
    from kvportal.accounts.constants import Right
    from kvportal.members.constants import Role
    from tests.factories import BetriebsstaetteFactory, doctor_account

    with time_machine.travel(ON_TIME, tick=False):
        practice = BetriebsstaetteFactory()
        employed = doctor_account(practice, Role.ANGESTELLT, Right.BILLING)
        raw = create_api_token(actor=employed, name="PVS", scopes=["billing"])[1]
        content = kvdt_file(practice.bsnr)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/billing/submissions/",
                {
                    "bsnr": practice.bsnr,
                    "quartal": "12026",
                    "datei": upload(content, std_name(practice.bsnr)),
                },
                HTTP_AUTHORIZATION=f"Bearer {raw}",
            )
        assert response.status_code == 201, response.content
        data = client.get(
            response.json()["links"]["self"], HTTP_AUTHORIZATION=f"Bearer {raw}"
        ).json()
    # the background check read the file back from S3 and accepted it
    assert data["status"] == "accepted" and data["pruefergebnis"] == 0
    from kvportal.billing.models import Submission

    submission = Submission.objects.get(pk=data["id"])
    assert submission.storage_name in _keys(s3)
    stored = s3.get_object(Bucket=BUCKET, Key=submission.storage_name)["Body"].read()
    assert stored == content
    # KV staff (Abrechnung) download the original file, streamed from S3
    staff, _ = staff_client("Abrechnung")
    response = staff.get(f"/abrechnung/kv/einreichung/{submission.pk}/datei/")
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == content


def test_document_publish_and_streamed_download_through_s3(s3, client, db):
    from kvportal.accounts.constants import Right
    from kvportal.core.quarters import Quarter
    from kvportal.documents import services
    from kvportal.documents.pdfgen import minimal_pdf
    from kvportal.members.constants import Role
    from tests.factories import BetriebsstaetteFactory, doctor_account

    practice = BetriebsstaetteFactory()
    doctor = doctor_account(practice, Role.VERTRAGSARZT, Right.DOCS_BSNR)
    content = minimal_pdf(["Honorarbescheid S3"])
    document = services.publish_document(
        actor=None,
        betriebsstaette=practice,
        quarter=Quarter.of(timezone.localdate()).previous(),
        doc_type="honorarbescheid",
        title="Honorarbescheid S3",
        content=content,
        notify=False,
    )
    assert document.file.name in _keys(s3)
    raw = create_api_token(actor=doctor, name="PVS", scopes=["documents"])[1]
    response = client.get(
        f"/api/v1/documents/{document.pk}/download", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == content


def test_readiness_checks_the_bucket(s3, client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["pruefungen"]["speicher"] == {"ok": True, "art": "s3"}
    s3.delete_bucket(Bucket=BUCKET)
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["fehlgeschlagen"] == ["speicher"]
    finally:
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
