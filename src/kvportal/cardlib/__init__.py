"""The eHBA card library, Django-free (docs/ehba-card.md).

Production verification (what the portal runs against real cards and configured trust
anchors): ``certs`` (certificate parsing and profiles), ``tokens`` (login token), ``validation``
(PAdES signatures), ``ocsp`` (OCSP client). These never import the test CA or the software
card (import contract in pyproject.toml).

Card side, for development, demo and tests: ``testpki`` (test CA), ``softcard`` (software
eHBA), ``ocsp_server`` (test OCSP responder), ``signing`` (PAdES batch signing with a card),
``pkcs11`` (signing with a PKCS#11 token), ``agent`` (local signing agent), ``cli``
(``kvportal card``), ``storage`` and ``origins`` (helpers).
"""
