"""The diversity and censorship report: plotly figures for the app, PNG + HTML files for people.

Figures (keys of `figures()`): categories (answers per label), umap_questions and umap_answers
(MiniLM embeddings projected to 2-D, coloured by label), answer_length (characters by label),
topics (answers per topic, stacked by label). The app's Dataset tab calls `figures(store)`;
`write_report` saves report.html, one PNG per figure and summary.json under data/report/.

    python -m data_builder report [--out data/report]
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.judge import LABELS, UNJUDGED
from core.paths import data_dir
from core.store import PENDING, Store, open_store
from data_builder.dedupe import mean_pairwise_cosine

LABEL_ORDER = [*LABELS, UNJUDGED, PENDING]
COLORS = {
    "not_censored": "#2ca02c",
    "party_line": "#d62728",
    "refusal": "#9467bd",
    "deflection": "#ff7f0e",
    "partial": "#1f77b4",
    "broken": "#8c564b",
    UNJUDGED: "#7f7f7f",
    PENDING: "#c7c7c7",
}
UMAP_MIN_ROWS = 30  # below this UMAP's neighbourhood graph is meaningless; PCA is used instead


def load_frame(store: Store) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Answers joined with their prompts: (frame, question vectors [n, 384], answer vectors [n, 384])."""
    answers = store.get("answers", embeddings=True)
    prompts = {r["id"]: r for r in store.get("prompts", embeddings=True)}
    answers = [a for a in answers if a["metadata"].get("prompt_id") in prompts]
    answers.sort(key=lambda r: r["id"])
    frame = pd.DataFrame(
        {
            "id": [a["id"] for a in answers],
            "prompt": [a["metadata"]["prompt"] for a in answers],
            "answer": [a["document"] for a in answers],
            "topic": [a["metadata"].get("topic", "") for a in answers],
            "style": [a["metadata"].get("style", "") for a in answers],
            "lang": [a["metadata"].get("lang", "") for a in answers],
            "label": [a["metadata"].get("label", PENDING) for a in answers],
            "thought_suppressed": [a["metadata"].get("thought_suppressed", "") for a in answers],
            "answer_chars": [int(a["metadata"].get("answer_chars", 0)) for a in answers],
            "model": [a["metadata"].get("model", "") for a in answers],
        }
    )
    dim = 384
    q = (
        np.stack([prompts[a["metadata"]["prompt_id"]]["embedding"] for a in answers])
        if answers
        else np.zeros((0, dim))
    )
    v = np.stack([a["embedding"] for a in answers]) if answers else np.zeros((0, dim))
    return frame, q, v


PROJECTIONS = {"umap": "UMAP", "pca": "PCA", "none": "Too few rows to map"}


def project_2d(vecs: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates [n, 2] and the method used (umap, or pca for small sets)."""
    if len(vecs) < 3:
        return np.zeros((len(vecs), 2)), "none"
    if len(vecs) < UMAP_MIN_ROWS:
        centred = vecs - vecs.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        return centred @ vt[:2].T, "pca"
    import umap

    reducer = umap.UMAP(
        n_neighbors=min(15, len(vecs) - 1), metric="cosine", random_state=seed, n_jobs=1
    )
    return reducer.fit_transform(vecs), "umap"


def summary(frame: pd.DataFrame, q: np.ndarray, store: Store | None = None) -> dict:
    counts = frame["label"].value_counts().to_dict() if len(frame) else {}
    out = {
        "answers": len(frame),
        "by_label": {k: int(counts[k]) for k in LABEL_ORDER if k in counts},
        "topics": int(frame["topic"].nunique()) if len(frame) else 0,
        "mean_pairwise_cosine_questions": mean_pairwise_cosine(q),
    }
    if store is not None:
        out["store"] = store.counts()
    return out


def figures(store: Store | None = None, data=None, seed: int = 0) -> dict:
    """Plotly figures keyed by name; `data` is load_frame's result when already loaded."""
    import plotly.express as px

    frame, q, v = data if data is not None else load_frame(store or open_store())
    if frame.empty:
        raise_empty()
    labels = [x for x in LABEL_ORDER if x in set(frame["label"])]
    common = {"color_discrete_map": COLORS, "category_orders": {"label": labels}}
    counts = frame["label"].value_counts().reindex(labels).reset_index()
    counts.columns = ["label", "answers"]
    figs = {
        "categories": px.bar(
            counts, x="label", y="answers", color="label", title="Answers by category", **common
        )
    }
    for name, vecs, what in (("umap_questions", q, "questions"), ("umap_answers", v, "answers")):
        xy, method = project_2d(vecs, seed)
        plot = frame.assign(x=xy[:, 0], y=xy[:, 1])
        figs[name] = px.scatter(
            plot,
            x="x",
            y="y",
            color="label",
            hover_data=["topic", "prompt"],
            title=f"{PROJECTIONS[method]} of {what} (MiniLM embeddings)",
            **common,
        )
    figs["answer_length"] = px.box(
        frame,
        x="label",
        y="answer_chars",
        color="label",
        points="all",
        title="Answer length (characters) by category",
        **common,
    )
    topic_counts = frame.groupby(["topic", "label"]).size().reset_index(name="answers")
    figs["topics"] = px.bar(
        topic_counts,
        x="answers",
        y="topic",
        color="label",
        orientation="h",
        title=f"Topic coverage ({frame['topic'].nunique()} topics)",
        height=max(400, 18 * frame["topic"].nunique()),
        **common,
    )
    for fig in figs.values():
        fig.update_layout(template="plotly_white", legend_title_text="category")
    return figs


def raise_empty():
    from core.errors import BadInputError

    raise BadInputError(
        "the store holds no answers yet; build the dataset first: "
        "python -m data_builder build --offline --limit 200"
    )


def write_report(store: Store | None = None, out: str | Path | None = None, seed: int = 0) -> dict:
    """Write report.html, <figure>.png and summary.json; returns the summary with file paths."""
    from data_builder.report_png import write_pngs

    store = store or open_store()
    out = Path(out) if out else data_dir() / "report"
    out.mkdir(parents=True, exist_ok=True)
    data = load_frame(store)
    figs = figures(data=data, seed=seed)
    html = out / "report.html"
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0))
        for i, fig in enumerate(figs.values())
    ]
    html.write_text(
        "<html><head><meta charset='utf-8'><title>censorscope dataset report</title></head>"
        "<body><h1>censorscope dataset report</h1>" + "".join(parts) + "</body></html>",
        encoding="utf-8",
    )
    pngs = write_pngs(figs, out)
    info = summary(data[0], data[1], store)
    info["files"] = [str(html), *map(str, pngs)]
    (out / "summary.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info
