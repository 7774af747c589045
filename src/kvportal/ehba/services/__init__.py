# Security (gematik IDP, gemSpec_PKI GS-A_4958; § 36a SGB I): challenges are single-use,
# short-lived and bound to the browser session; the card maps to the person via its
# Telematik-ID, never its serial; every refusal is written to the access log; QES uploads are
# accepted only when every signature verifies against the trusted qualified CA.
"""eHBA services: login challenges, card registration, card login, QES verification.

A package along its sections (issue 13); every public name is re-exported here, so callers
keep ``from kvportal.ehba import services`` / ``services.register_card(...)``."""

from kvportal.ehba.services.card_login import (
    CardOutcome,
    names_match,
    verify_card_response,
)
from kvportal.ehba.services.challenges import (
    issue_challenge,
    session_hash,
)
from kvportal.ehba.services.common import (
    CHALLENGE_AUDIENCE,
    challenge_seconds,
)
from kvportal.ehba.services.demo import (
    DEMO_PINS,
    seed_demo,
)
from kvportal.ehba.services.qes import (
    required_signer,
    split_name,
    validate_signed_application_pdf,
)
from kvportal.ehba.services.refusals import (
    AGENT_ERRORS,
    REFUSALS,
    CardRefused,
    refusal_message,
)
from kvportal.ehba.services.registration import (
    active_registration,
    can_register,
    end_registration,
    purge_challenges,
    register_card,
    set_second_factor,
)
from kvportal.ehba.services.signables import (
    AnyOf,
    Signable,
    SignableDocumentSpec,
    UploadRejected,
    _signables,
    application_complete,
    current_documents,
    documents_of,
    label_of,
    prepare_documents,
    read_document,
    register_signable,
    reports_of,
    signable_for,
    signables,
    submit_signed_document,
)
from kvportal.ehba.services.trust import (
    ImproperlyConfiguredTrust,
    Trust,
    get_trust,
    testpki_dir,
)

__all__ = [
    "AGENT_ERRORS",
    "CHALLENGE_AUDIENCE",
    "DEMO_PINS",
    "REFUSALS",
    "AnyOf",
    "CardOutcome",
    "CardRefused",
    "ImproperlyConfiguredTrust",
    "Signable",
    "SignableDocumentSpec",
    "Trust",
    "UploadRejected",
    "_signables",
    "active_registration",
    "application_complete",
    "can_register",
    "challenge_seconds",
    "current_documents",
    "documents_of",
    "end_registration",
    "get_trust",
    "issue_challenge",
    "label_of",
    "names_match",
    "prepare_documents",
    "purge_challenges",
    "read_document",
    "refusal_message",
    "register_card",
    "register_signable",
    "reports_of",
    "required_signer",
    "seed_demo",
    "session_hash",
    "set_second_factor",
    "signable_for",
    "signables",
    "split_name",
    "submit_signed_document",
    "testpki_dir",
    "validate_signed_application_pdf",
    "verify_card_response",
]
