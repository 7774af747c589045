"""Benchmark of the KVDT validator (issue 4 §3): throughput and peak memory.

Generates synthetic KVDT files (default ~25 MB and ~100 MB) and measures, each in a fresh
subprocess on one core:

- split:    reading the file in 1 MiB chunks and splitting it into lines (the floor)
- validate: `kvportal.kvdt.validate_file` (all rules), timed inside the process
- process:  the whole command `python -m kvportal.kvdt check FILE --json` (start-up,
            imports, check and output), timed from outside

Peak memory is the child's peak RSS (`resource.getrusage(...).ru_maxrss`) minus the RSS of
a child that only imported the same modules, so it shows what the work itself costs.

    .venv/bin/python benchmarks/kvdt_benchmark.py [--sizes 20,100] [--out-dir DIR] [--keep]
        [--src DIR]   # measure another source tree (e.g. an older commit) on the same files
        [--stammdaten]  # also validate with synthetic KBV master files (SDKT, SDPLZ, SDICD,
                        # SDEBM) covering the generated values: mode "validate+SD"

Each child runs pinned to one core (`taskset -c 0` semantics via os.sched_setaffinity).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUARTER = "22026"
BSNR = "951234500"
TODAY = dt.date(2026, 8, 1)


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: str) -> dict:
    from kvportal.kvdt import validate_file

    size = os.path.getsize(path) if path else 0
    start = time.perf_counter()
    cpu = time.process_time()
    result: dict = {"mode": mode}
    if mode == "split":
        lines = 0
        with open(path, "rb") as fh:
            rest = b""
            while chunk := fh.read(1 << 20):
                buf = rest + chunk
                idx = buf.rfind(b"\r\n")
                parts = buf[:idx].split(b"\r\n")
                rest = buf[idx + 2 :]
                lines += len(parts)
        result["lines"] = lines
    elif mode == "validate+SD":
        from kvportal.kvdt.masterdata import load_directory

        loaded = time.perf_counter()
        masterdata = load_directory(_masterdata_dir(Path(path)))
        result["load_seconds"] = time.perf_counter() - loaded
        start = time.perf_counter()
        cpu = time.process_time()
        report = validate_file(path, today=TODAY, masterdata=masterdata)
        result["status"] = report.status
        result["stats"] = report.stats
        result["messages"] = len(report.messages)
        result["not_checked"] = len(report.not_checked)
    elif mode == "validate":
        report = validate_file(path, today=TODAY)
        result["status"] = report.status
        result["stats"] = report.stats
        result["messages"] = len(report.messages)
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = time.process_time() - cpu
    result["bytes"] = size
    result["peak_rss_mb"] = _rss_mb()
    return result


SRC = str(Path(__file__).resolve().parents[1] / "src")


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def run_process(path: Path) -> dict:
    """Wall time and peak RSS of the whole command-line check, measured from outside."""
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = [sys.executable, "-m", "kvportal.kvdt", "check", str(path), "--json"]
    cmd += ["--today", TODAY.isoformat()]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, preexec_fn=_one_core
    )
    out = proc.stdout.read()
    _pid, _status, usage = os.wait4(proc.pid, 0)  # reap ourselves: rusage of this child only
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(_status)
    report = json.loads(out)
    return {
        "mode": "process",
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "bytes": path.stat().st_size,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "status": report["status"],
        "stats": report["stats"],
    }


def run_child(mode: str, path: Path | None) -> dict:
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path or "")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        preexec_fn=_one_core,
    )
    return json.loads(proc.stdout)


def make_file(directory: Path, target_mb: int) -> Path:
    from kvportal.core.quarters import Quarter
    from kvportal.kvdt import generate

    quarter = Quarter.parse(QUARTER)
    sample = len(generate(2000, seed=1, quarter=quarter, bsnr=BSNR))
    cases = max(1, int(target_mb * 1_000_000 / (sample / 2000)))
    path = directory / f"kvdt_{target_mb}mb.con"
    if not path.exists() or abs(path.stat().st_size - target_mb * 1e6) > 0.05 * target_mb * 1e6:
        t = time.perf_counter()
        generate(cases, seed=42, quarter=quarter, bsnr=BSNR, out=path)
        print(
            f"  erzeugt: {path.name}: {cases} Fälle, {path.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
    return path


def _line(fk: str, value: str) -> bytes:
    return b"%03d%s%s\r\n" % (len(value) + 9, fk.encode(), value.encode())


def _masterdata_dir(con: Path) -> Path:
    return con.parent / f"stammdaten_{con.stem}"


def make_masterdata(con: Path) -> None:
    """Synthetic master files in the published formats with every value the generator uses
    (so the check with them is clean and every master-data rule runs)."""
    import re

    from kvportal.core.quarters import Quarter
    from kvportal.kvdt import generator

    q = Quarter.parse(QUARTER)
    target = _masterdata_dir(con)
    target.mkdir(exist_ok=True)
    vknrs = [f"{BSNR[:2]}{n:03d}" for n in range(100, 800)]
    # The generator draws each case's IK (4111) at random; take the IKs of the billing file
    # measured, so R202 finds them (a real SDKT lists every IK a practice bills). Each file
    # gets its own master files: the 20 MB check does not carry the 100 MB file's IKs.
    iks = {m.decode() for m in re.findall(rb"\r\n0184111(\d{9})", con.read_bytes())}
    spread: list[list[str]] = [[] for _ in vknrs]
    for i, ik in enumerate(sorted(iks)):
        spread[i % len(vknrs)].append(ik)
    entries = "".join(
        f'<kostentraeger V="{v}"><gueltigkeit V="2000-01-01.."/><ik_liste>'
        + "".join(f'<ik V="{ik}"/>' for ik in (spread[i] or [f"109{v[1:]}01"]))
        + "</ik_liste></kostentraeger>"
        for i, v in enumerate(vknrs)
    )
    (target / f"SDKT_Q{q.quarter}_{q.year}.xml").write_text(
        f'<kostentraeger_liste xmlns="urn:ehd/kts/001">{entries}</kostentraeger_liste>'
    )
    plz = [_line("8000", "plz0"), _line("9111", q.kvdt), _line("9212", "PLZ1016.01")]
    plz += [_line("8000", "2150") + _line("0150", f"0{n}") for n in range(1000, 10000)]
    (target / f"PLZ74_1.{q.quarter}{q.year % 100:02d}").write_bytes(
        b"".join(plz) + _line("8000", "plz9")
    )
    icds = sorted(set(generator._ICDS) | {"O04.9"})
    diagnoses = "".join(
        f'<diagnose><icd_code V="{c}"/><abrechenbar V="j"/></diagnose>' for c in icds
    )
    (target / f"ICDStamm{q.year}.xml").write_text(
        f'<icd_stammdaten xmlns="urn:ehd/icd/001"><diagnosen_liste>{diagnoses}'
        "</diagnosen_liste></icd_stammdaten>"
    )
    gnrs = sorted(set(generator._GNRS) | {"00001U", "01900", "01100", "11511"})
    body = "".join(
        f'<gnr V="{g}"><allgemein><gueltigkeit><service_tmr V="2008-01-01.."/></gueltigkeit>'
        "</allgemein></gnr>"
        for g in gnrs
    )
    (target / f"SDEBM_01.62_74_tf{q.year}q{q.quarter}_nr1.xml").write_text(
        '<ehd:ehd xmlns:ehd="urn:ehd/001" xmlns="urn:ehd/go/001"><ehd:body><gnr_liste>'
        f"{body}</gnr_liste></ehd:body></ehd:ehd>"
    )


def _best(runs: list[dict]) -> dict:
    """The run with the least CPU time (the machine is shared: wall time says little), with
    every run's MB/CPU-s and the highest peak RSS of all runs."""
    best = dict(min(runs, key=lambda r: r["cpu_seconds"]))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["all_mbc"] = [r["bytes"] / 1e6 / max(r["cpu_seconds"], 1e-9) for r in runs]
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,100", help="file sizes in MB, comma separated")
    parser.add_argument("--out-dir", help="where to put the files (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep generated files")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--src", help="source tree to measure (default: this checkout's src)")
    parser.add_argument(
        "--stammdaten", action="store_true", help="also validate with synthetic master files"
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    global SRC
    if args.src:
        SRC = str(Path(args.src).resolve())
    if args.child:
        mode, path = args.child
        print(json.dumps(child(mode, path)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = None
    if args.out_dir:
        directory = Path(args.out_dir)
        directory.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kvdt-bench-")
        directory = Path(tmp.name)
    print(f"KVDT-Benchmark ({dt.datetime.now():%Y-%m-%d %H:%M}, Python {sys.version.split()[0]}, "
          f"Load {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)")  # fmt: skip
    base = run_child("baseline", None)["peak_rss_mb"]
    print(f"  Grundlast des Prozesses (nur Importe): {base:.1f} MB RSS")
    rows = []
    for size in sizes:
        path = make_file(directory, size)
        modes = ["split", "validate"]
        if args.stammdaten:
            make_masterdata(path)
            modes.append("validate+SD")
        for mode in modes:
            runs = [run_child(mode, path) for _ in range(max(1, args.repeat))]
            rows.append((size, _best(runs)))
        runs = [run_process(path) for _ in range(max(1, args.repeat))]
        rows.append((size, _best(runs)))
    print()
    print("MB/s = 10^6 Bytes je Sekunde Wanduhr; MB/CPU-s = je Sekunde Rechenzeit eines Kerns")
    print("(bester Lauf nach Rechenzeit; 'Läufe' = MB/CPU-s jedes Laufs)")
    print(
        f"{'Datei':>9} {'Messung':>11} {'MB/s':>7} {'MB/CPU-s':>9} {'CPU s':>7}"
        f" {'Spitze RSS':>11} {'Δ Grundlast':>12}  Läufe"
    )
    for _size, r in rows:
        mbs = r["bytes"] / 1e6 / r["seconds"]
        mbc = r["bytes"] / 1e6 / max(r["cpu_seconds"], 1e-9)
        each = " / ".join(f"{x:.1f}" for x in r["all_mbc"])
        print(
            f"{r['bytes'] / 1e6:>6.1f} MB {r['mode']:>11} {mbs:>7.1f} {mbc:>9.1f}"
            f" {r['cpu_seconds']:>7.2f} {r['peak_rss_mb']:>8.1f} MB"
            f" {r['peak_rss_mb'] - base:>9.1f} MB  {each}"
        )
        if r["mode"] in ("validate", "process", "validate+SD"):
            s = r["stats"]
            print(
                f"{'':>19}Status {r['status']}, {s['cases']} Fälle, {s['services']} Leistungen, "
                f"{s['diagnoses']} Diagnosen, {s['lines']} Zeilen"
            )
        if r["mode"] == "validate+SD":
            print(
                f"{'':>19}Stammdaten geladen in {r['load_seconds']:.2f} s, "
                f"{r['not_checked']} Regeln nicht geprüft"
            )
    if tmp is not None and not args.keep:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
