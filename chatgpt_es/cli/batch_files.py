"""The files of a batch: INPUT items read lazily and checked, OUTPUT results scanned for resume.

Every id met is kept in a temporary SQLite index (:class:`IdIndex`), so a batch of any size reads and
resumes in flat memory.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

from stages.errors import ChatGptEsError
from stages.prompt import format_prompt

BAD_LINE = "InvalidInputLine"
Id = str | int


@attrs.frozen
class BatchItem:
    id: Id
    line: int
    messages: list[Any]


@attrs.frozen
class BatchResult:
    id: Id | None
    line: int
    answer: str | None
    error: dict[str, str] | None
    started_at: str
    ms: float
    attempts: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self, filter=lambda field, value: field.name != "attempts" or value is not None)


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _bad(line: int, problem: str, key: Id | None = None) -> BatchResult:
    return BatchResult(key, line, None, {"type": BAD_LINE, "message": f"line {line}: {problem}"}, now_iso(), 0.0)


def _decode(raw: bytes, line: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _bad(line, "not UTF-8")
    except json.JSONDecodeError as error:
        return _bad(line, f"not JSON ({error.msg} at column {error.colno})")
    except (ValueError, RecursionError) as error:  # e.g. an integer past Python's digit limit, deep nesting
        return _bad(line, f"not JSON this reader can take ({type(error).__name__}: {str(error)[:80]})")


class IdIndex:
    """Ids met so far, each with a number, kept in a temporary SQLite file.

    Duplicate detection and resume need every id seen; on disk, a batch of any size keeps flat memory.
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="chatgpt-es-batch-")
        self._db = sqlite3.connect(Path(self._folder.name) / "ids.sqlite3")
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                               "CREATE TABLE ids (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;")

    def get(self, key: Id) -> int | None:
        row = self._db.execute("SELECT value FROM ids WHERE key = ?", (json.dumps(key),)).fetchone()
        return None if row is None else int(row[0])

    def put(self, key: Id, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO ids VALUES (?, ?)", (json.dumps(key), value))

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def __enter__(self) -> IdIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse(data: Any, line: int, seen: IdIndex) -> BatchItem | BatchResult:
    if isinstance(data, BatchResult):
        return data
    if not isinstance(data, dict):
        return _bad(line, f"not a JSON object but {type(data).__name__}")
    key = data.get("id")
    if isinstance(key, bool) or not isinstance(key, str | int) or key == "":
        return _bad(line, "no id (a non-empty string or an integer)")
    first = seen.get(key)
    if first is not None:
        return _bad(line, f"duplicate id {key!r} (first on line {first})")
    seen.put(key, line)
    has_one, has_many = "message" in data, "messages" in data
    if has_one == has_many:
        return _bad(line, 'both "message" and "messages"' if has_one else 'neither "message" nor "messages"', key)
    if has_one and not isinstance(data["message"], str):
        return _bad(line, '"message" is not a string', key)
    messages = [{"role": "user", "content": data["message"]}] if has_one else data["messages"]
    try:
        format_prompt(messages)
    except ChatGptEsError as error:
        return _bad(line, f'bad "messages": {error}', key)
    return BatchItem(key, line, messages)


BOM = b"\xef\xbb\xbf"


def read_items(source: str | Path | Iterable[Any]) -> Iterator[BatchItem | BatchResult]:
    """Items one at a time from a JSONL file (blank lines skipped) or from an iterable of dicts (line = its
    1-based position); a bad one is already its error result."""
    with IdIndex() as seen:
        if not isinstance(source, str | Path):
            for number, data in enumerate(source, start=1):
                yield _parse(data, number, seen)
            return
        with open(source, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                raw = raw.removeprefix(BOM) if number == 1 else raw  # files saved by Windows editors start so
                if raw.strip():
                    yield _parse(_decode(raw, number), number, seen)


def scan_output(path: str | Path, last: IdIndex) -> bool:
    """Record in ``last`` whether each id's last result line in ``path`` succeeded (1) or not (0); unreadable
    lines are ignored.  Returns whether the file's last line is torn (cut by a crash)."""
    torn = False
    if Path(path).exists():
        with open(path, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                raw = raw.removeprefix(BOM) if number == 1 else raw
                torn = not raw.endswith(b"\n")
                try:
                    data = json.loads(raw)
                except (ValueError, RecursionError):
                    continue
                if isinstance(data, dict) and isinstance(data.get("id"), str | int):
                    last.put(data["id"], int(data.get("error") is None))
    return torn
