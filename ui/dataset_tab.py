"""Dataset: the builder's report plots, a searchable table of stored answers, nearest neighbours.

Reads the chroma store only (embedded under data/chroma, or CHROMA_URL). With no dataset built
yet, every panel says so and how to build one.
"""

import gradio as gr

from core.errors import CensorscopeError
from core.paths import public_text
from ui import runtime
from ui.common import as_int, raw_value, unavailable, user_errors

FIGURES = [
    ("categories", "Category distribution"),
    ("umap_questions", "Map of questions (UMAP, or PCA for small sets)"),
    ("umap_answers", "Map of answers (UMAP, or PCA for small sets)"),
    ("answer_length", "Answer length by category"),
]
BUILD_HINT = "build it with `python -m data_builder build --offline --limit 200` (or from Admin)"
TABLE_HEADERS = ["id", "topic", "style", "lang", "label", "prompt", "answer", "rationale", "model"]
NEAR_HEADERS = ["similarity", "id", "text", "label", "topic", "prompt"]
_FIGURES: dict[tuple, dict] = {}  # the last store state's report figures
LABEL_CHOICES = ["any", "not_censored", "party_line", "refusal", "deflection", "partial"]


def _store():
    try:
        from data_builder import browse  # noqa: F401  (the builder's read-only views)
    except ImportError as err:
        raise runtime.NotAvailable(f"the dataset builder cannot be imported ({err})") from err
    return runtime.get().store()


@user_errors
def on_dataset_load():
    """Counts, plots and the first rows of the table; a 'not available' panel when empty."""
    empty = (None,) * len(FIGURES)
    try:
        store = _store()
        counts = store.counts()
    except CensorscopeError as err:
        return (unavailable(str(err)), *empty, [])
    if not counts.get("answers"):
        return (
            unavailable(f"no dataset built yet (the store is empty); {BUILD_HINT}."),
            *empty,
            [],
        )
    from data_builder import report
    from data_builder.browse import table

    key = (store.where, tuple(sorted(counts.items())))
    if key not in _FIGURES:  # UMAP takes seconds; redo it only when the store changed
        try:
            _FIGURES.clear()
            _FIGURES[key] = report.figures(store)
        except CensorscopeError as err:
            return (unavailable(str(err)), *empty, [])
    figs = _FIGURES[key]
    summary = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    frame = table(store, limit=500)
    where = public_text(store.where)
    panels = [_panel(figs.get(k), title) for k, title in FIGURES]
    return (f"Store `{where}`: {summary}.", *panels, frame)


def _panel(fig, default: str):
    """A plot whose panel label is its figure's title, so a PCA fallback is not called UMAP."""
    if fig is None:
        return None
    title = getattr(getattr(fig.layout, "title", None), "text", None)
    return gr.Plot(value=fig, label=title or default)


@user_errors
def on_dataset_search(query: str, label: str):
    """Filter stored answers by a substring of prompt or answer, and by label."""
    from data_builder.browse import table

    return table(_store(), query=query or None, label=None if label in (None, "any") else label)


@user_errors
def on_nearest(text: str, k, collection: str):
    """Stored rows nearest in meaning to `text` (MiniLM cosine similarity)."""
    from data_builder.browse import nearest

    store = _store()
    return nearest(text, k=as_int(k, "k", 1, 100), collection=collection, store=store)


def build_dataset_tab() -> dict:
    status = gr.Markdown(unavailable("press Load to read the dataset store."))
    load_btn = gr.Button("Load / refresh dataset", elem_id="dataset-load")
    plots = []
    with gr.Row():
        for _key, title in FIGURES[:2]:
            plots.append(gr.Plot(label=title))
    with gr.Row():
        for _key, title in FIGURES[2:]:
            plots.append(gr.Plot(label=title))
    gr.Markdown("### Stored answers")
    with gr.Row():
        query = gr.Textbox(label="Search prompt or answer text", scale=3)
        label = gr.Dropdown(LABEL_CHOICES, value="any", label="Judge label", scale=1)
        search_btn = gr.Button("Search", scale=1)
    rows = gr.Dataframe(
        headers=TABLE_HEADERS, label="Answers", interactive=False, wrap=True, max_height=420
    )
    gr.Markdown("### Nearest neighbours by meaning")
    with gr.Row():
        text = gr.Textbox(label="Text", scale=3)
        k = raw_value(gr.Number(value=10, precision=0, label="k", scale=1))
        collection = gr.Radio(["answers", "prompts", "control"], value="answers", label="In")
        near_btn = gr.Button("Find", scale=1)
    near = gr.Dataframe(headers=NEAR_HEADERS, label="Nearest", interactive=False, wrap=True)

    load_btn.click(on_dataset_load, None, [status, *plots, rows], api_name="dataset")
    search_btn.click(on_dataset_search, [query, label], [rows], api_name="dataset_search")
    query.submit(on_dataset_search, [query, label], [rows], api_visibility="private")
    near_btn.click(on_nearest, [text, k, collection], [near], api_name="nearest")
    return {"outputs": [status, *plots, rows]}
