# Security (gemSpec_PKI TUC_PKI_018/030): a production portal trusts only the configured PEM
# anchors; the test PKI (unencrypted keys) must not be switched on there.
"""Deploy checks of the eHBA trust configuration (``kvportal check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def trust_configuration(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from kvportal.ehba.services import trust

    messages: list[checks.CheckMessage] = []
    if settings.EHBA_TEST_PKI:
        messages.append(
            checks.Warning(
                "Die Test-PKI ist als Vertrauensanker eingeschaltet (EHBA_TEST_PKI / "
                "KVPORTAL_EHBA_TEST_PKI): ihre Schlüssel liegen unverschlüsselt auf der Platte.",
                hint="Im Produktivbetrieb KVPORTAL_EHBA_TEST_PKI=0 setzen und die CA-Zertifikate "
                "in KVPORTAL_EHBA_LOGIN_TRUST_ANCHORS / KVPORTAL_EHBA_QES_TRUST_ANCHORS angeben.",
                id="ehba.W001",
            )
        )
    for setting in ("EHBA_LOGIN_TRUST_ANCHORS", "EHBA_QES_TRUST_ANCHORS"):
        try:
            trust.configured_anchors(setting)
        except trust.ImproperlyConfiguredTrust as exc:
            messages.append(checks.Error(str(exc), id="ehba.E001"))
    return messages
