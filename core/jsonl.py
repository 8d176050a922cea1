"""One reader for the JSON Lines files users hand us: prompts, answers, texts, labelled rows.

`read_jsonl` stops at the first bad line with its file and line number. `scan_jsonl` reports each
bad line and carries on, for tools that keep partial results (the judge CLI marks such lines
`unjudged`). Non-UTF-8 bytes, a line that is not a JSON object, a missing or non-string required
field, an absurdly long field: each gets a message; nothing is guessed.

    python -c "from core.jsonl import read_jsonl; print(read_jsonl('rows.jsonl', ('prompt',)))"
"""

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError

MAX_FIELD_CHARS = 200_000
"""A longer string field is refused: no answer, prompt or text we read is that long."""


@dataclass(frozen=True)
class JsonlLine:
    line: int
    row: dict | None
    error: str | None
    """Why the line could not be used (row is None then)."""


def _check(row, required, any_of) -> str | None:
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    for key in required:
        if not isinstance(row.get(key), str):
            return f"needs a {key!r} string"
    if any_of and not any(isinstance(row.get(k), str) for k in any_of):
        return f"needs one of {', '.join(repr(k) for k in any_of)} as a string"
    for key, value in row.items():
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            return f"{key!r} is {len(value):,} characters; at most {MAX_FIELD_CHARS:,} are read"
    return None


def scan_jsonl(
    path: str | Path, required: tuple[str, ...] = (), any_of: tuple[str, ...] = ()
) -> list[JsonlLine]:
    """Every non-blank line, good or bad, in order. Lines starting with '#' are skipped."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"file not found: {path}")
    out: list[JsonlLine] = []
    for n, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            out.append(JsonlLine(n, None, f"not UTF-8 text ({err.reason} at byte {err.start})"))
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            out.append(JsonlLine(n, None, f"not JSON ({err})"))
            continue
        error = _check(row, required, any_of)
        out.append(JsonlLine(n, None if error else row, error))
    return out


def read_jsonl(
    path: str | Path,
    required: tuple[str, ...] = (),
    any_of: tuple[str, ...] = (),
    allow_empty: bool = False,
) -> list[dict]:
    """Objects of a .jsonl file, in order; the first bad line raises BadInputError."""
    lines = scan_jsonl(path, required, any_of)
    for item in lines:
        if item.error:
            raise BadInputError(f"{path}, line {item.line}: {item.error}")
    if not lines and not allow_empty:
        raise BadInputError(f"{path} holds no rows")
    return [item.row for item in lines]


def write_jsonl(path: str | Path, rows: list[dict]) -> Path:
    """Write rows as JSON Lines, whole or not at all (core.atomic's staged write)."""
    from core.atomic import write_text_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path
