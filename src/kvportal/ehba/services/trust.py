# gemSpec_PKI TUC_PKI_018/030: only configured trust anchors count; the test PKI only with the
# demo/test switch EHBA_TEST_PKI.
"""What the portal trusts: production PEM anchors (OCSP) and, for demo/tests, the test PKI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings


@dataclass
class Trust:
    """What the portal trusts: login CA(s), QES roots, and how revocation is checked."""

    login_anchors: list
    qes_roots: list
    revocation_check: Callable[..., Any]
    source: str


def testpki_dir() -> Path:
    """Directory of the test PKI the demo/test switch ``EHBA_TEST_PKI`` trusts."""
    configured = settings.EHBA_TEST_PKI_DIR
    return Path(configured) if configured else Path(settings.EHBA_DIR) / "pki"


@lru_cache(maxsize=8)
def _test_pki(directory: str, mtime: float):
    from kvportal.cardlib import testpki

    return testpki.TestPKI.load(directory)


@lru_cache(maxsize=8)
def _pem_anchors(paths: tuple[str, ...], mtimes: tuple[float, ...]) -> list:
    from kvportal.cardlib import certs

    return certs.load_pem_certificates(paths)


def configured_anchors(setting: str) -> list:
    """The certificates of the PEM files named in ``setting`` (production trust anchors)."""
    paths = tuple(str(p) for p in getattr(settings, setting) or ())
    try:
        mtimes = tuple(Path(p).stat().st_mtime for p in paths)
        return _pem_anchors(paths, mtimes)
    except FileNotFoundError as exc:
        raise ImproperlyConfiguredTrust(f"{setting}: Datei {exc.filename} nicht gefunden.") from exc
    except (OSError, ValueError) as exc:
        raise ImproperlyConfiguredTrust(f"{setting}: {exc}") from exc


def _ocsp_check(cert, issuer=None, **kwargs):
    """Real OCSP round trip; EHBA_OCSP_URL overrides the AIA address (like the TSL's mapping
    of public OCSP addresses to TI addresses)."""
    from kvportal.cardlib import ocsp

    url = settings.EHBA_OCSP_URL or None
    return ocsp.ocsp_revocation_check(cert, issuer, url=url, **kwargs)


def _combined_check(test_pki) -> Callable[..., Any]:
    """Revocation from the test PKI's own state for its certificates, OCSP for all others."""

    def check(cert, issuer=None, **kwargs):
        if test_pki.issuer_of(cert) is not None:
            return test_pki.revocation_check(cert, issuer, **kwargs)
        return _ocsp_check(cert, issuer, **kwargs)

    return check


def get_trust() -> Trust:
    """Production trust anchors from ``EHBA_LOGIN_TRUST_ANCHORS`` / ``EHBA_QES_TRUST_ANCHORS``
    (PEM files, revocation by OCSP); with the demo/test switch ``EHBA_TEST_PKI`` also the test
    PKI in ``EHBA_TEST_PKI_DIR`` (its revocation state, or OCSP with ``EHBA_REVOCATION=ocsp``)."""
    login = configured_anchors("EHBA_LOGIN_TRUST_ANCHORS")
    qes = configured_anchors("EHBA_QES_TRUST_ANCHORS")
    sources = ["PEM-Dateien"] if login or qes else []
    check: Callable[..., Any] = _ocsp_check
    if settings.EHBA_TEST_PKI:
        directory = testpki_dir()
        marker = directory / "root.cert.pem"
        if not (directory / "state.json").exists() or not marker.exists():
            raise ImproperlyConfiguredTrust(
                f"EHBA_TEST_PKI ist eingeschaltet, aber in {directory} liegt keine Test-PKI "
                "(kvportal card pki init)."
            )
        test_pki = _test_pki(str(directory), marker.stat().st_mtime)
        login = [*test_pki.trust_anchors_login, *login]
        qes = [*test_pki.trust_roots, *qes]
        sources.insert(0, f"Test-PKI {directory}")
        if settings.EHBA_REVOCATION != "ocsp":
            check = _combined_check(test_pki)
    if not login and not qes:
        raise ImproperlyConfiguredTrust(
            "Kein Vertrauensanker für eHBA konfiguriert (EHBA_LOGIN_TRUST_ANCHORS, "
            "EHBA_QES_TRUST_ANCHORS leer, EHBA_TEST_PKI aus)."
        )
    return Trust(login, qes, check, ", ".join(sources))


class ImproperlyConfiguredTrust(Exception):
    """The trust configuration is missing or unreadable; the text names the setting."""
