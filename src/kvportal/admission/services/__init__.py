# § 38 Ärzte-ZV (fee before dealing, deemed withdrawal), § 46 Ärzte-ZV (fees), § 36a Abs. 2b SGB I
# (copy after submitting); every write is audited in the same transaction (seed 000).
"""Writes of the admission app. Keyword-only, `actor` first, atomic, audited.

One module per section (drafts, submission and confirmations, office, retention); callers import
the public names from here: ``from kvportal.admission import services``.
"""

from kvportal.admission.services.common import (
    DECIDED_OR_CLOSED,
    AdmissionError,
    DuplicateApplication,
    SubmissionRefused,
    check,
    known_logins,
    lead_time,
    max_attachment_bytes,
    prefill,
    registered_factor,
    session_slots,
)
from kvportal.admission.services.drafts import (
    add_attachment,
    check_pdf,
    create_draft,
    delete_draft,
    remove_attachment,
    save_draft,
)
from kvportal.admission.services.office import (
    answer_nachforderung,
    book_payment,
    create_session,
    decide,
    defer_fee,
    delete_session,
    expire_unpaid_fees,
    finalize,
    request_documents,
    request_fee,
    schedule,
)
from kvportal.admission.services.retention import (
    BESCHLUSS_YEARS,
    CLOSED_STATES,
    FILE_YEARS,
    purge_closed_files,
    purge_stale_drafts,
)
from kvportal.admission.services.submission import (
    confirm,
    confirm_with_code,
    content_hash,
    hash_link_token,
    is_submitter,
    issue_link,
    link_open,
    reopen,
    send_code,
    signatory_for_token,
    submit,
    withdraw,
)


def __getattr__(name: str) -> object:
    # the former constants, now the shared limits of core.confirmation (settings CONFIRMATION_*)
    from kvportal.core.confirmation import limits

    values = {
        "MAX_CODE_ATTEMPTS": lambda: limits().max_attempts,
        "MAX_CODES_PER_DAY": lambda: limits().max_codes_per_day,
        "CODE_VALIDITY": lambda: limits().code_validity,
        "CODE_RESEND_AFTER": lambda: limits().resend_after,
    }
    if name in values:
        return values[name]()
    raise AttributeError(name)


__all__ = [
    "BESCHLUSS_YEARS",
    "CLOSED_STATES",
    "DECIDED_OR_CLOSED",
    "FILE_YEARS",
    "AdmissionError",
    "DuplicateApplication",
    "SubmissionRefused",
    "add_attachment",
    "answer_nachforderung",
    "book_payment",
    "check",
    "check_pdf",
    "confirm",
    "confirm_with_code",
    "content_hash",
    "create_draft",
    "create_session",
    "decide",
    "defer_fee",
    "delete_draft",
    "delete_session",
    "expire_unpaid_fees",
    "finalize",
    "hash_link_token",
    "is_submitter",
    "issue_link",
    "known_logins",
    "lead_time",
    "link_open",
    "max_attachment_bytes",
    "prefill",
    "purge_closed_files",
    "purge_stale_drafts",
    "registered_factor",
    "remove_attachment",
    "reopen",
    "request_documents",
    "request_fee",
    "save_draft",
    "schedule",
    "send_code",
    "session_slots",
    "signatory_for_token",
    "submit",
    "withdraw",
]
