"""Import and export benchmark: a large 整改台账 (100,000 rows by default) through the real CLI.

Run from the project root:

    .venv/bin/python -m benchmarks.imports [--rows 100000] [--postgres] [--keep]

Writes a CSV and an XLSX ledger (Chinese headers, a title row in the XLSX, as a bureau's own
file has) with every owner and leader taken from data/cadres.csv, then for each file on a fresh
database: imports the cadres, imports the ledger (`zhenggai import measures FILE`, a subprocess,
as staff run it), imports it again (nothing changes), and imports a copy with one unknown owner
near the end (must be refused whole), then exports the ledger to the same format. Prints wall
time, rows/s and the peak memory of each run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from benchmarks.pg import postgres_databases

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "data"
HEADER = ["编号", "问题", "整改措施", "类别", "责任单位", "责任人", "分管领导", "完成时限", "状态", "进展"]
STATUSES = ["未开始", "进行中", "已完成", "已销号"]
KINDS = ("csv", "xlsx")  # one fresh database each

# Run the CLI and report its own peak RSS (ru_maxrss of the child is the import alone).
_CLI = ("import resource, sys\nfrom bot.cli import main\ncode = main(sys.argv[1:])\n"
        "print(f'MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
        "sys.exit(code)\n")


@dataclass
class Run:
    label: str
    seconds: float
    peak_mb: float
    code: int
    said: str


def cadre_names() -> list[str]:
    with (DATA / "cadres.csv").open(encoding="utf-8-sig", newline="") as handle:
        return [row["name"] for row in csv.DictReader(handle)]


def ledger_rows(count: int) -> list[list[str]]:
    names = cadre_names()
    rows = []
    for i in range(count):
        rows.append([f"TZ{i:06d}", f"第{i}号问题：乡镇教师政策性补贴未按月足额发放。",
                     f"第{i}号措施：协调财政部门纳入预算，按月足额发放并建立台账。", "教师待遇",
                     "" if i % 3 else "基础教育科", names[i % len(names)],
                     names[(i + 5) % len(names)] if i % 4 else "", f"2027-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                     STATUSES[i % 4], f"已完成第{i % 7}阶段"])
    return rows


def write_files(folder: Path, rows: list[list[str]]) -> dict[str, Path]:
    """The ledger as CSV and XLSX, and each with one unknown owner near the end."""
    bad = [list(row) for row in rows]
    bad[-10][5] = "查无此人"
    files: dict[str, Path] = {}
    for suffix, content in (("", rows), ("-bad", bad)):
        files[f"csv{suffix}"] = path = folder / f"ledger{suffix}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([HEADER, *content])
        book = Workbook(write_only=True)
        sheet = book.create_sheet("整改台账")
        sheet.append(["整改台账（基准测试）"])
        for values in [HEADER, *content]:
            sheet.append(values)
        files[f"xlsx{suffix}"] = path = folder / f"ledger{suffix}.xlsx"
        book.save(path)
    return files


def cli(label: str, url: str, *args: str) -> Run:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TELEGRAM_"))}
    environment.update(DATABASE_URL=url, PYTHONIOENCODING="utf-8", ZHENGGAI_ENV_FILE=os.devnull)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True, env=environment,
                          cwd=PROJECT, check=False)
    seconds = time.perf_counter() - started
    peaks = re.findall(r"MAXRSS_KB (\d+)", done.stderr)
    said = (done.stdout.strip() or done.stderr.strip()).splitlines()
    message = next((line for line in reversed(said) if not line.startswith("MAXRSS_KB")), "")
    return Run(label, seconds, int(peaks[-1]) / 1024 if peaks else float("nan"), done.returncode, message)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="ledger rows (default 100,000)")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and SQLite databases")
    args = parser.parse_args()
    if args.rows < 20:
        parser.error("--rows must be at least 20 (the refused copy breaks a row near the end)")
    folder = Path(tempfile.mkdtemp(prefix="zhenggai-imports-"))
    started = time.perf_counter()
    files = write_files(folder, ledger_rows(args.rows))
    print(f"files written in {time.perf_counter() - started:.1f}s: "
          + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in files.values()))
    runs: list[Run] = []
    async with contextlib.AsyncExitStack() as stack:
        if args.postgres:
            urls = dict(zip(KINDS, await stack.enter_async_context(postgres_databases(*(f"bench_{k}" for k in KINDS))),
                                strict=True))
        else:
            urls = {kind: f"sqlite+aiosqlite:///{folder / kind}.db" for kind in KINDS}
        for kind in KINDS:
            url = urls[kind]
            # Set-up as a deployment does it (not measured): the schema, then the cadre list.
            for arguments in (("db", "upgrade"), ("import", "cadres", str(DATA / "cadres.csv"))):
                setup = await asyncio.to_thread(cli, "set-up", url, *arguments)
                if setup.code != 0:
                    raise SystemExit(f"set-up `zhenggai {' '.join(arguments[:2])}` failed: {setup.said}")
            for label, arguments in (
                (f"{kind}: first import", ("import", "measures", str(files[kind]))),
                (f"{kind}: same file again", ("import", "measures", str(files[kind]))),
                (f"{kind}: one bad row near the end", ("import", "measures", str(files[f"{kind}-bad"]))),
                (f"{kind}: export the ledger", ("export", "measures", str(folder / f"export.{kind}"), "--force")),
            ):
                run = await asyncio.to_thread(cli, label, url, *arguments)
                runs.append(run)
                print(f"  {run.label}: {run.seconds:.1f}s, exit {run.code}", flush=True)
    backend = "PostgreSQL (throwaway server)" if args.postgres else "SQLite file"
    print(f"\ncommand: python -m benchmarks.imports{' --postgres' if args.postgres else ''}"
          f"{f' --rows {args.rows}' if args.rows != 100_000 else ''}")
    print(f"database: {backend}; {args.rows:,} rows; machine: {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{'run':36} {'wall (s)':>9} {'rows/s':>9} {'peak RSS (MB)':>14}  exit  the CLI said")
    for run in runs:
        print(f"{run.label:36} {run.seconds:9.1f} {args.rows / run.seconds:9,.0f} {run.peak_mb:14.0f}  "
              f"{run.code:4}  {run.said[:90]}")
    failures = [r.label for r in runs if (r.code != 0) != r.label.endswith("near the end")]
    if failures:
        print(f"\nUNEXPECTED EXIT CODES: {failures}")
    if args.keep:
        print(f"\nfiles kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
