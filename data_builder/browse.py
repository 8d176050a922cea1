"""Read-only views of the store for the app's Dataset tab: a filtered table and text search.

python -c "from data_builder.browse import nearest; print(nearest('Tank Man', k=5))"
"""

import pandas as pd

from core.store import Store, get_embedder, open_store

TABLE_COLUMNS = ["id", "topic", "style", "lang", "label", "prompt", "answer", "rationale", "model"]


def table(
    store: Store | None = None,
    query: str | None = None,
    label: str | None = None,
    topic: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Stored answers as rows; `query` filters by a case-insensitive substring of prompt or answer."""
    store = store or open_store()
    where = {}
    if label:
        where["label"] = label
    if topic:
        where["topic"] = topic
    if len(where) > 1:
        where = {"$and": [{k: v} for k, v in where.items()]}
    rows = store.get("answers", where=where or None)
    records = []
    needle = (query or "").strip().lower()
    for r in sorted(rows, key=lambda r: r["id"]):
        meta = r["metadata"]
        if (
            needle
            and needle not in meta.get("prompt", "").lower()
            and needle not in r["document"].lower()
        ):
            continue
        records.append(
            {**{k: meta.get(k, "") for k in TABLE_COLUMNS}, "id": r["id"], "answer": r["document"]}
        )
        if len(records) >= limit:
            break
    return pd.DataFrame(records, columns=TABLE_COLUMNS)


def nearest(
    text: str, k: int = 10, collection: str = "answers", store: Store | None = None
) -> pd.DataFrame:
    """The k stored rows most similar in meaning to `text` (MiniLM cosine similarity)."""
    from core.errors import BadInputError

    if not text or not text.strip():
        raise BadInputError("type some text to search for")
    if collection not in ("prompts", "answers", "control"):
        raise BadInputError(f"unknown collection '{collection}'")
    store = store or open_store()
    vec = get_embedder()([text])[0]
    hits = store.nearest(collection, vec, k)
    return pd.DataFrame(
        [
            {
                "similarity": round(h["similarity"], 3),
                "id": h["id"],
                "text": h["document"],
                "label": h["metadata"].get("label", ""),
                "topic": h["metadata"].get("topic", ""),
                "prompt": h["metadata"].get("prompt", ""),
            }
            for h in hits
        ],
        columns=["similarity", "id", "text", "label", "topic", "prompt"],
    )
