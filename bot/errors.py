"""Domain errors.

Services raise these; the edges (CLI, Telegram handlers) translate them into replies.
`str(error)` is always a short Simplified-Chinese sentence fit to show a user as is:
no tracebacks, no internal identifiers beyond what the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass


class ZhenggaiError(Exception):
    """Base of every error a user may see."""


class ConfigError(ZhenggaiError):
    """A setting is missing or malformed; the message names the variable."""

    def __str__(self) -> str:
        return f"配置错误：{self.args[0]}"


class NotFound(ZhenggaiError):
    """An unknown measure code, cadre name, regulation key …"""


class PermissionDenied(ZhenggaiError):
    """The actor may not do this (someone else's measure, wrong role)."""


class InvalidTransition(ZhenggaiError):
    """The measure is not in a state that allows this action (e.g. already 销号)."""


class ConflictError(ZhenggaiError):
    """Someone else changed the record first; the caller should reload and retry."""


class InvalidInput(ZhenggaiError):
    """A value typed by a user cannot be understood (bad date, empty reason …)."""


@dataclass(frozen=True)
class ImportProblem:
    """One bad cell or row: where it is and what is wrong with it."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" 第{self.row}行"
        if self.column:
            where += f" [{self.column}]"
        return f"{where}：{self.message}"


class ImportFailed(ZhenggaiError):
    """The whole file was rejected; nothing was written."""

    def __init__(self, problems: list[ImportProblem], total: int = 0, *, no_header: bool = False) -> None:
        super().__init__(problems)
        self.problems = problems
        self.total = max(total, len(problems))  # problems found, of which the first ones are kept
        self.no_header = no_header  # no row looked like the header: perhaps another kind of file

    def lines(self, limit: int | None = None) -> list[str]:
        """Every kept problem (or the first `limit`) on a line of its own, for a person fixing the
        file, and how many more there are."""
        shown = self.problems[:limit] if limit is not None else self.problems
        lines = [f"共 {self.total} 处错误，整个文件未导入（改正后重新导入）：", *(f"  {p}" for p in shown)]
        if self.total > len(shown):
            lines.append(f"  ……另有 {self.total - len(shown)} 处错误未列出")
        return lines

    def __str__(self) -> str:
        first = str(self.problems[0])
        more = self.total - 1
        return first if more <= 0 else f"{first}（另有 {more} 处错误）"
