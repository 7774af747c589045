"""KVDT library: streaming reader, validator, German protocol and generator (no Django).

Public API (used by the billing app):

- `validate_file(path_or_binary_fileobj, *, expected_quarter=None, expected_bsnr=None,
  today=None, progress=None) -> ValidationReport`
- `generate(cases, *, seed, quarter, bsnr, inject=(), out=None)`
- `format_protocol(report, file_name=None) -> str`, `summary_lines`, `message_rows`
- `iter_records(path_or_fileobj)` – the record model
"""

from .generator import INJECTABLE, generate, iter_generate
from .messages import RULES, Message, ValidationReport
from .protocol import format_protocol, message_rows, summary_lines
from .reader import Record, iter_fields, iter_records
from .validator import validate_file

__all__ = [
    "INJECTABLE",
    "RULES",
    "Message",
    "Record",
    "ValidationReport",
    "format_protocol",
    "generate",
    "iter_fields",
    "iter_generate",
    "iter_records",
    "message_rows",
    "summary_lines",
    "validate_file",
]
