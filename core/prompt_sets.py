"""Prompt sets and control text for evaluation.

rows = load_prompt_set("prompts.jsonl")   # {"prompt", "topic"?, "style"?, "lang"?, ...}
texts = control_texts()                   # neutral paragraphs for the capability cost
"""

from pathlib import Path

from core.errors import BadInputError
from core.jsonl import read_jsonl
from core.paths import ASSETS


def load_prompt_set(path: str | Path, limit: int | None = None) -> list[dict]:
    """Prompts from .jsonl ({"prompt", "topic"?, "style"?, "lang"?, ...}) or .txt (one a line)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"prompt file not found: {path}")
    if path.suffix == ".jsonl":
        rows = read_jsonl(path, required=("prompt",), allow_empty=True)
        for n, row in enumerate(rows, 1):
            if not row["prompt"].strip():
                raise BadInputError(f"{path}, row {n}: the prompt is empty")
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [
            {"prompt": x.strip()} for x in lines if x.strip() and not x.lstrip().startswith("#")
        ]
    if not rows:
        raise BadInputError(f"the prompt set {path} is empty")
    return rows[:limit] if limit else rows


def control_texts(path: str | Path | None = None, max_chars: int = 1200) -> list[str]:
    """Neutral paragraphs for the capability cost (default: the built-in control text)."""
    path = Path(path) if path else ASSETS / "seed" / "control.txt"
    if not path.is_file():
        raise BadInputError(f"control text not found: {path}")
    paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]
    paras = [p[:max_chars] for p in paras if p and not p.startswith("#")]
    if not paras:
        raise BadInputError(f"{path} holds no control text")
    return paras
