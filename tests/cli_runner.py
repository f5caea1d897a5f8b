"""Run the real `zhenggai` command in a subprocess, as an operator or cron would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


def zhenggai(*args: str, database_url: str | None = None, stdin: str | None = None,
             env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "TELEGRAM_"))}
    environment["PYTHONIOENCODING"] = "utf-8"
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
        env=environment, cwd=PROJECT, timeout=timeout, check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
