"""Negative control: neutral text stored beside the censorship answers.

Sources, in the order `auto` tries them: SlimPajama (`cerebras/SlimPajama-627B`, streamed with
`datasets`) when the hub answers within seconds, else the built-in assets/seed/control.txt. A local
.txt/.md file or folder can be named instead. Offline, the hub is never contacted: a probe with a
short timeout stands between us and `datasets`, which would otherwise retry for minutes.

    python -m data_builder build --offline --control-source ~/texts --control-tokens 50000
"""

import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

from core.errors import CensorscopeError
from core.paths import ASSETS
from core.store import Store, content_id

BUILTIN = ASSETS / "seed" / "control.txt"
SLIMPAJAMA = "cerebras/SlimPajama-627B"
CHUNK_WORDS = 160
PROBE_TIMEOUT_S = 3.0


class ControlUnavailable(CensorscopeError):
    """The control text source cannot be read (hub unreachable, empty folder, ...)."""


def chunk_paragraphs(text: str, words: int = CHUNK_WORDS) -> Iterator[str]:
    """Paragraph-aligned chunks of about `words` words ('#' comment lines skipped)."""
    buf: list[str] = []
    for para in text.split("\n\n"):
        lines = [ln for ln in para.splitlines() if not ln.lstrip().startswith("#")]
        para = " ".join(" ".join(lines).split())
        if not para:
            continue
        buf.append(para)
        if sum(len(p.split()) for p in buf) >= words:
            yield "\n\n".join(buf)
            buf = []
    if buf:
        yield "\n\n".join(buf)


def local_texts(path: str | Path) -> Iterator[tuple[str, str]]:
    """(chunk, source) from a text file, or every .txt/.md file under a folder, in sorted order."""
    path = Path(path)
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".md"))
        if path.is_dir()
        else [path]
    )
    if not files:
        raise ControlUnavailable(f"{path} holds no .txt or .md files")
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as err:
            raise ControlUnavailable(f"cannot read control text {file}: {err}") from err
        source = "builtin" if file == BUILTIN else f"file:{file.name}"
        for chunk in chunk_paragraphs(text):
            yield chunk, source


def hub_reachable() -> bool:
    """True when the Hugging Face hub accepts a TCP connection within a few seconds."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "huggingface.co", port), PROBE_TIMEOUT_S).close()
        return True
    except OSError:
        return False


def slimpajama_texts() -> Iterator[tuple[str, str]]:
    """(chunk, source) streamed from SlimPajama; ControlUnavailable when the hub is out of reach."""
    if not hub_reachable():
        raise ControlUnavailable(
            f"the Hugging Face hub is not reachable, so {SLIMPAJAMA} cannot be streamed; use "
            "--control-source builtin or a local text file or folder"
        )
    from datasets import load_dataset

    try:
        stream = load_dataset(SLIMPAJAMA, split="train", streaming=True)
        for row in stream:
            for chunk in chunk_paragraphs(row["text"]):
                yield chunk, "slimpajama"
    except (OSError, ConnectionError, ValueError) as err:
        raise ControlUnavailable(f"streaming {SLIMPAJAMA} failed: {err}") from err


def control_texts(kind: str) -> Iterator[tuple[str, str]]:
    if kind == "slimpajama":
        return slimpajama_texts()
    return local_texts(BUILTIN if kind == "builtin" else kind)


def control_stage(
    store: Store,
    embed,
    kind: str,
    target_tokens: int,
    count_tokens: Callable[[str], int],
    auto: bool,
) -> dict:
    """Store control chunks until the store holds `target_tokens` tokens of them."""
    have = sum(int(r["metadata"].get("n_tokens", 0)) for r in store.get("control"))
    stats = {"control_added": 0, "control_tokens": have, "control_source": kind}
    if have >= target_tokens:
        return stats
    texts = control_texts(kind)
    try:
        first = next(texts, None)
    except ControlUnavailable as err:
        if not auto:
            raise
        print(f"[data_builder] {err}; using the built-in control text", file=sys.stderr)
        kind, texts, first = "builtin", control_texts("builtin"), None
        stats["control_source"] = kind
    pending: list[tuple[str, str]] = [first] if first else []
    for item in texts:
        if have >= target_tokens:
            break
        pending.append(item)
        if len(pending) >= 16:
            have, stats = _flush(store, embed, pending, count_tokens, have, target_tokens, stats)
            pending = []
    if pending and have < target_tokens:
        have, stats = _flush(store, embed, pending, count_tokens, have, target_tokens, stats)
    if have < target_tokens:
        print(
            f"[data_builder] control source '{kind}' ran out at {have:,} of {target_tokens:,} "
            "tokens; name a larger local text with --control-source",
            file=sys.stderr,
        )
    return stats


def _flush(store, embed, pending, count_tokens, have, target, stats):
    ids = [content_id("control", text) for text, _ in pending]
    fresh = store.existing_ids("control", ids)
    rows = []
    for row_id, (text, source) in zip(ids, pending, strict=True):
        if row_id in fresh or have >= target:
            continue
        n = count_tokens(text)
        rows.append((row_id, text, {"source": source, "n_tokens": n}))
        have += n
        fresh.add(row_id)
    if rows:
        vecs = embed([text for _, text, _ in rows])
        stats["control_added"] += store.add(
            "control", [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], vecs
        )
    stats["control_tokens"] = have
    return have, stats
