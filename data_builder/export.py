"""Export for SAE training: the stored texts as a `datasets.Dataset` saved to disk.

Rows (columns): text, kind ('prompt_answer' | 'control'), prompt, answer, label, topic, id.
For prompt_answer rows `text` is the prompt, a blank line, then the answer; for control rows it is
the neutral chunk. The training stage reads it with `load_training_texts()`.

    python -m data_builder export [--out data/export/training_texts]
"""

import json
from pathlib import Path

from core.atomic import staged_dir
from core.errors import BadInputError
from core.paths import data_dir
from core.store import Store, open_store

EXPORT_NAME = "training_texts"


def default_export_path() -> Path:
    return data_dir() / "export" / EXPORT_NAME


def training_rows(store: Store, include_pending: bool = True) -> list[dict]:
    """Prompt+answer rows (sorted by id) followed by control rows."""
    rows = []
    for a in sorted(store.get("answers"), key=lambda r: r["id"]):
        meta = a["metadata"]
        if not include_pending and meta.get("label") == "pending":
            continue
        rows.append(
            {
                "text": f"{meta['prompt']}\n\n{a['document']}".strip(),
                "kind": "prompt_answer",
                "prompt": meta["prompt"],
                "answer": a["document"],
                "label": meta.get("label", ""),
                "topic": meta.get("topic", ""),
                "id": a["id"],
            }
        )
    for c in sorted(store.get("control"), key=lambda r: r["id"]):
        rows.append(
            {
                "text": c["document"],
                "kind": "control",
                "prompt": "",
                "answer": "",
                "label": "control",
                "topic": "",
                "id": c["id"],
            }
        )
    return rows


def export(store: Store | None = None, out: str | Path | None = None) -> dict:
    """Save the training texts with `Dataset.save_to_disk`; returns path and row counts."""
    from datasets import Dataset

    store = store or open_store()
    rows = training_rows(store)
    if not rows:
        raise BadInputError(
            "nothing to export: the store is empty; run python -m data_builder build first"
        )
    out = Path(out) if out else default_export_path()
    ds = Dataset.from_list(rows)
    with staged_dir(out) as stage:  # a crash mid-write never leaves a half-written export
        ds.save_to_disk(str(stage))
    info = {
        "path": str(out),
        "rows": len(rows),
        "prompt_answer": sum(r["kind"] == "prompt_answer" for r in rows),
        "control": sum(r["kind"] == "control" for r in rows),
    }
    (out.parent / f"{out.name}.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def load_training_texts(path: str | Path | None = None, kinds: tuple[str, ...] | None = None):
    """The exported `datasets.Dataset` (column `text`), optionally only some kinds."""
    from datasets import load_from_disk

    path = Path(path) if path else default_export_path()
    if not (path / "dataset_info.json").exists():
        raise BadInputError(
            f"no exported training texts at {path}; run: python -m data_builder export"
        )
    ds = load_from_disk(str(path))
    if kinds:
        ds = ds.filter(lambda row: row["kind"] in kinds)
    return ds
