"""Private storage for uploads and generated files; never served under a public URL."""

from __future__ import annotations

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
