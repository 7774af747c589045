"""Streaming reader for KVDT files (ISO 8859-15, one field per CRLF line `LLL FFFF content`).

Memory use does not depend on the file size: the file is read in chunks of `CHUNK` bytes and
split into lines; only one chunk (plus at most one unfinished line) is held at a time.
No Django.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

CHUNK = 1 << 20
ENCODING = "iso-8859-15"
MAX_LINE = 999  # the length prefix has three digits
#: An unfinished line longer than this is cut (it is wrong anyway); keeps memory flat.
_MAX_REST = 4096

#: Printable ISO 8859-15 bytes; everything else (C0/C1 controls, DEL) is forbidden in content.
PRINTABLE = bytes(range(0x20, 0x7F)) + bytes(range(0xA0, 0x100))


@contextmanager
def open_binary(source: str | os.PathLike | BinaryIO):
    """Yield a binary file object for a path or pass an already open binary file through."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield fh
    else:
        if isinstance(source, io.TextIOBase):
            raise TypeError("KVDT-Dateien müssen binär geöffnet werden (mode 'rb').")
        yield source


def iter_blocks(
    fobj: BinaryIO, progress: Callable[[int], None] | None = None, chunk_size: int = CHUNK
) -> Iterator[tuple[bytes, bool]]:
    """Yield blocks of complete lines (without the final CRLF) from `fobj`.

    Each item is `(block, terminated)`; `terminated` is False only for a trailing piece of
    the file that does not end with CRLF. `progress` gets the number of bytes read so far.
    """
    rest = b""
    total = 0
    while True:
        chunk = fobj.read(chunk_size)
        if not chunk:
            break
        total += len(chunk)
        if progress is not None:
            progress(total)
        buf = rest + chunk if rest else chunk
        idx = buf.rfind(b"\r\n")
        if idx < 0:
            rest = buf if len(buf) <= _MAX_REST else buf[:_MAX_REST]
        else:
            rest = buf[idx + 2 :]
            if len(rest) > _MAX_REST:
                rest = rest[:_MAX_REST]
            yield buf[:idx], True
    if rest:
        yield rest, False


@dataclass(slots=True)
class Field:
    line: int
    fk: str
    value: str


@dataclass
class Record:
    """One Satz: the 8000 line and all fields up to the next 8000."""

    satzart: str
    line: int
    fields: list[Field] = field(default_factory=list)

    def get(self, fk: str) -> str | None:
        for f in self.fields:
            if f.fk == fk:
                return f.value
        return None

    def get_all(self, fk: str) -> list[str]:
        return [f.value for f in self.fields if f.fk == fk]


def iter_fields(source: str | os.PathLike | BinaryIO) -> Iterator[Field]:
    """Yield every field of a KVDT file, tolerant of syntax errors (no validation).

    Lines too short to carry a field id are skipped; the validator reports them.
    """
    with open_binary(source) as fobj:
        lineno = 0
        for block, _terminated in iter_blocks(fobj):
            for line in block.split(b"\r\n"):
                lineno += 1
                if len(line) < 7:
                    continue
                yield Field(lineno, line[3:7].decode(ENCODING), line[7:].decode(ENCODING))


def iter_records(source: str | os.PathLike | BinaryIO) -> Iterator[Record]:
    """Yield the records (Sätze) of a KVDT file one by one (record model for callers)."""
    current: Record | None = None
    for f in iter_fields(source):
        if f.fk == "8000":
            if current is not None:
                yield current
            current = Record(f.value, f.line)
        elif current is not None:
            current.fields.append(f)
    if current is not None:
        yield current


def encode_line(fk: str, value: str) -> bytes:
    """One KVDT line with its length prefix and CRLF."""
    content = value.encode(ENCODING)
    length = 3 + 4 + len(content) + 2
    if length > MAX_LINE:
        raise ValueError(f"Feld {fk} ist zu lang ({length} > {MAX_LINE} Bytes).")
    return b"%03d%s%s\r\n" % (length, fk.encode("ascii"), content)
