"""Private storage for uploads and generated files; never served under a public URL."""

from __future__ import annotations

import hashlib
from typing import IO

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.functional import LazyObject


def _build() -> Storage:
    if settings.PRIVATE_STORAGE_BACKEND == "s3":
        from storages.backends.s3 import S3Storage

        return S3Storage(**{k: v for k, v in settings.S3_PRIVATE.items() if v is not None})
    settings.PRIVATE_ROOT.mkdir(parents=True, exist_ok=True)
    return FileSystemStorage(location=settings.PRIVATE_ROOT, base_url=None)


class _PrivateStorage(LazyObject):
    def _setup(self) -> None:
        self._wrapped = _build()


private_storage = _PrivateStorage()


def sha256_of(fileobj: IO[bytes], chunk_size: int = 1024 * 1024) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(chunk_size), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()
