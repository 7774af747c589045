"""The reader/validator never crashes: arbitrary bytes give a report (abort = status 3)."""

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvportal.kvdt import iter_records, validate_file

from .conftest import BSNR, QUARTER, TODAY

PREFIX = b"0138000con0\r\n017910320260702\r\n01091064\r\n01091321\r\n"
_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_sane(data: bytes):
    report = validate_file(io.BytesIO(data), today=TODAY)
    assert report.status in (0, 1, 2, 3)
    assert "ABBRUCH-INTERN" not in report.rules(), report.messages
    assert report.stats["bytes"] == len(data)
    report.to_dict()
    return report


@_SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data):
    _assert_sane(data)


@_SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_after_valid_header(data):
    _assert_sane(PREFIX + data)


_LINE = st.builds(
    lambda prefix, fk, content, end: prefix + fk + content + end,
    st.sampled_from([b"013", b"014", b"999", b"000", b"0a1", b"01"]),
    st.sampled_from(
        [
            b"8000",
            b"0201",
            b"0212",
            b"5000",
            b"5001",
            b"5098",
            b"5099",
            b"6001",
            b"6003",
            b"3000",
            b"3103",
            b"4101",
            b"4239",
            b"9204",
            b"0225",
            b"0226",
            b"3119",
            b"9A01",
        ]
    ),
    st.sampled_from(
        [
            b"con0",
            b"besa",
            b"rvsa",
            b"adt0",
            b"0101",
            b"0102",
            b"adt9",
            b"con9",
            b"12026",
            b"20260231",
            b"20260415",
            b"951234500",
            b"03000",
            b"J06.9",
            b"G",
            b"",
            b"\xff\x00",
            b"1",
        ]
    ),
    st.sampled_from([b"\r\n", b"\n", b"\r\n", b""]),
)


@_SETTINGS
@given(st.lists(_LINE, max_size=60))
def test_plausible_lines_in_any_order(lines):
    _assert_sane(PREFIX + b"".join(lines))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_generated_file(data):
    from kvportal.kvdt import generate

    base = bytearray(generate(3, seed=1, quarter=QUARTER, bsnr=BSNR))
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, len(base) - 1))
        base[pos] = data.draw(st.integers(0, 255))
    _assert_sane(bytes(base))


@_SETTINGS
@given(st.binary(max_size=1000))
def test_record_reader_never_crashes(data):
    for record in iter_records(io.BytesIO(data)):
        assert isinstance(record.satzart, str)


# The KBV test files carry every package (ADT, KADT, Hybrid-DRG) and most case fields: their
# lines with random values, dropped or repeated lines exercise the end-of-case rules.
_KBV = Path(__file__).parent / "fixtures" / "kbv"
_KBV_LINES = [
    line
    for name in sorted(p.name for p in _KBV.glob("*.con"))
    for line in (_KBV / name).read_bytes().split(b"\r\n")[:-1]
]
_Z05 = (_KBV / "Z05123456699_27.10.2026_12.00.con").read_bytes().split(b"\r\n")[:-1]
_VALUES = st.sampled_from(
    [b"", b"0", b"1", b"3", b"28", b"99999", b"5.2.0", b"5.3.0", b"x.y", b"20261231",
     b"20260231", b"2026101520261028", b"74799", b"12027", b"B", b"\xe4", b"99999999999"]
)  # fmt: skip


def _line(fk: bytes, value: bytes) -> bytes:
    return b"%03d%s%s" % (len(value) + 9, fk, value)


@_SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(_KBV_LINES) - 1), st.integers(0, 2), _VALUES),
        max_size=25,
    )
)
def test_mutated_kbv_file(edits):
    lines = list(_Z05)
    for index, kind, value in edits:
        index %= len(lines)
        if kind == 0:
            lines[index] = _line(lines[index][3:7], value)
        elif kind == 1:
            del lines[index]
        else:
            lines.insert(index, _KBV_LINES[(index * 7) % len(_KBV_LINES)])
    _assert_sane(b"\r\n".join(lines) + b"\r\n")
