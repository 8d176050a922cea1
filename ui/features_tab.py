"""Features: search features by meaning, read one's dashboard, rank censorship-specific ones.

The dashboard (label with its detection score, top activating contexts and examples at lower
activation levels, histogram, density, usual range, promoted/suppressed output tokens) is read
from the SAE folder's `dashboard/` (core/dashboard.py); both shipped SAEs have one. Without one,
the panel says so and the promoted/suppressed tokens are computed live from the weights. Search
runs core/feature_search.py over labels and contexts. The ranking runs core/discovery.py's
contrastive scoring (censored vs uncensored text) once per SAE and is cached; its rank and
effect size are the feature's censorship score.
"""

import html
import re

import gradio as gr
import torch

from core.dashboard import has_dashboard
from core.errors import BadInputError, CensorscopeError, SaeLoadError
from core.judge import ANSWERED, CENSORED
from core.labels import SHOWN, score_phrase
from core.paths import public_text
from ui import runtime
from ui.common import as_int, raw_value, unavailable, user_errors

RANK_HEADERS = ["rank", "feature", "causal (answer)", "effect d", "AUROC", "label"]
SEARCH_HEADERS = ["feature", "match", "detection", "label", "examples from"]
LOGIT_HEADERS = ["promoted token", "logit", "suppressed token", "logit "]


def logit_lens(subject, sae, feature: int, n: int = 10) -> list[list]:
    """Output tokens the feature's decoder direction promotes and suppresses most (live).

    W_dec row, times the final RMSNorm's scale, through the unembedding: the same recipe as the
    training dashboard, computed for one feature so it shows for SAEs without dashboard data.
    """
    w_u = subject.model.get_output_embeddings().weight  # [vocab, d_model]
    norm = getattr(getattr(subject.model, "model", None), "norm", None)
    with torch.no_grad():
        direction = sae.W_dec[feature].float().to(w_u.device)  # [d_model]
        if norm is not None and hasattr(norm, "weight"):
            direction = direction * norm.weight.float()
        logits = w_u.float() @ direction  # [vocab]
        up, down = logits.topk(n), (-logits).topk(n)
    dec = subject.tokenizer.decode
    promoted = [(dec([int(i)]), float(v)) for v, i in zip(up.values, up.indices, strict=True)]
    suppressed = [
        (dec([int(i)]), -float(v)) for v, i in zip(down.values, down.indices, strict=True)
    ]
    return lens_table(promoted, suppressed)


def lens_table(promoted: list, suppressed: list) -> list[list]:
    return [
        [repr(p), round(pv, 3), repr(s), round(sv, 3)]
        for (p, pv), (s, sv) in zip(promoted, suppressed, strict=False)
    ]


def load_dashboard(sae_dir, feature: int):
    """The training dashboard of one feature, or NotAvailable saying why."""
    if sae_dir is None:
        raise runtime.NotAvailable("this SAE was not loaded from a folder, so it has no dashboard")
    from core.dashboard import load_feature_dashboard

    try:
        return load_feature_dashboard(sae_dir, feature)
    except SaeLoadError as err:  # no dashboard folder for this SAE
        text = public_text(str(err), sae_dir)
        raise runtime.NotAvailable(f"no dashboard data for this SAE: {text}") from err


def _context_row(ctx, peak: float) -> str:
    spans = []
    for i, (t, a) in enumerate(zip(ctx.tokens, ctx.activations, strict=False)):
        style = f"background: rgba(239,68,68,{min(max(a, 0) / peak, 1):.2f})"
        if i == ctx.index:
            style += "; outline: 1px solid #b91c1c"
        spans.append(f'<span title="{a:.3f}" style="{style}">{html.escape(t)}</span>')
    m = ctx.meta or {}
    where = " · ".join(str(m[k]) for k in ("region", "topic", "label", "model", "lang") if m.get(k))
    note = f" <small class='where'>{html.escape(where)}</small>" if where else ""
    return f"<div class='ctx'><code>{ctx.value:.2f}</code> {''.join(spans)}{note}</div>"


def contexts_html(contexts, levels=(), peak: float | None = None) -> str:
    """Top activating contexts and examples at lower levels, tokens shaded by activation."""
    if not contexts:
        return "<p><em>No activating contexts in the dashboard sample.</em></p>"
    peak = peak or max((c.value for c in contexts), default=0.0) or 1.0
    rows = ["<h4>Top activating contexts</h4>"] + [_context_row(c, peak) for c in contexts]
    for name, examples in levels:
        rows.append(f"<h4>Activation level: {html.escape(name)}</h4>")
        rows.extend(_context_row(c, peak) for c in examples)
    return "<div class='feature-contexts'>" + "".join(rows) + "</div>"


def label_markdown(dash) -> list[str]:
    """The feature's labels with the statistic and held-out detection score behind each."""
    info = dash.label_info or {}
    lines = []
    if info.get("text"):
        lines.append(f"**Offline label:** {info['text']} ({score_phrase(info)})")
        if info.get("stats"):
            lines.append(f"<small>Evidence: {html.escape(info['stats'])}</small>")
        keys = (info.get("rule") or {}).get("tokens", [])
        if len(keys) > SHOWN:  # the score is the whole rule's: every token it names
            listed = _markdown_literal(", ".join(keys))
            lines.append(f"<small>The rule's {len(keys)} tokens (any case): {listed}</small>")
    llm = info.get("llm")
    if llm:
        score = llm.get("detection")
        scored = f"detection **{score:.2f}**" if score is not None else "unscored"
        lines.append(f"**LLM label** ({llm.get('model', 'LLM')}): {llm['text']} ({scored})")
    return lines


def _markdown_literal(text: str) -> str:
    """Text shown as itself in Markdown: HTML-escaped, and Markdown's marks backslashed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~])", r"\\\1", html.escape(text))


def histogram_figure(edges: list[float], counts: list[int], feature: int):
    if not counts or not any(counts):
        return None
    import plotly.graph_objects as go

    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=False)]
    fig = go.Figure(go.Bar(x=centres, y=counts, marker_color="#ef4444"))
    fig.update_layout(
        title=f"Feature #{feature}: non-zero activations",
        xaxis_title="activation",
        yaxis_title="tokens",
        template="plotly_white",
        height=300,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
    )
    return fig


RANK_TEXTS = 32  # texts per side: a few seconds on CPU for the embedded model
_RANKINGS: dict[str, tuple[str, list]] = {}  # SAE path -> (what was contrasted, ranked scores)


def contrast_sets() -> tuple[str, list, list, str]:
    """(description, set A, set B, region): judged answers from the store, else built-in prompts."""
    try:
        store = runtime.get().store()
        rows = store.get("answers") if store.count("answers") else []
    except (CensorscopeError, ImportError):
        rows = []
    censored = [(r["metadata"].get("prompt"), r["document"]) for r in rows
                if r["metadata"].get("label") in CENSORED]  # fmt: skip
    free = [(r["metadata"].get("prompt"), r["document"]) for r in rows
            if r["metadata"].get("label") in ANSWERED]  # fmt: skip
    if len(censored) >= 4 and len(free) >= 4:
        what = (
            f"answer tokens of {min(len(censored), RANK_TEXTS)} censored vs "
            f"{min(len(free), RANK_TEXTS)} uncensored stored answers"
        )
        return what, censored[:RANK_TEXTS], free[:RANK_TEXTS], "answer"
    from training.corpus import chat_prompts

    sensitive, neutral = chat_prompts(seed=0)
    what = (
        f"prompt tokens of {RANK_TEXTS} sensitive vs {RANK_TEXTS} neutral built-in prompts "
        "(no judged dataset in the store yet)"
    )
    a = [(p, "") for p in sensitive[:RANK_TEXTS]]
    b = [(p, "") for p in neutral[:RANK_TEXTS]]
    return what, a, b, "prompt"


def ranking(compute: bool) -> tuple[str, list]:
    """The cached ranking for the current SAE; computed (under the model lock) when asked."""
    rt = runtime.get()
    key = str(rt.sae.path)
    if key not in _RANKINGS and compute:
        from core.discovery import discover

        what, a, b, region = contrast_sets()
        with rt.lock:
            ranked = discover(rt.subject, rt.sae, a, b, region=region, top=100)
        _RANKINGS[key] = (what, ranked)
    return _RANKINGS.get(key, ("", []))


def display_order(ranked: list, causal: dict[int, float]) -> list[int]:
    """Feature ids as the ranking table lists them: by causal score where the SAE has stored
    ones (what ablation is predicted to do, not what co-occurs), else by contrast."""
    order = [s.feature for s in ranked]
    if causal:
        order = sorted(set(order) | set(list(causal)[:50]), key=lambda f: -causal.get(f, -1e9))
    return order


def censorship_score(feature: int) -> str | None:
    what, ranked = ranking(compute=False)
    for i, score in enumerate(ranked):
        if score.feature == feature:
            return (
                f"Censorship score: rank **#{i + 1}**, effect size d = **{score.effect:.2f}**, "
                f"AUROC {score.auroc:.2f}, fires on {score.rate_a:.1%} vs {score.rate_b:.1%} "
                f"of tokens ({what})"
            )
    if ranked:
        return f"Censorship score: not among the top {len(ranked)} features ({what})."
    return None


@user_errors
def on_feature(feature_id):
    """Dashboard for one feature: labels, range, contexts by level, histogram, output tokens."""
    rt = runtime.get()
    sae = rt.sae
    fid = as_int(feature_id, "feature id", 0, sae.d_sae - 1)
    label = sae.labels().get(fid, "")
    lines = [f"### Feature #{fid}" + (f": {label}" if label else "")]
    score = censorship_score(fid)
    if score:
        lines.append(score)
    try:
        dash = load_dashboard(rt.sae_dir, fid)
    except runtime.NotAvailable as err:
        lines.append(unavailable(str(err)))
        lines.append("The promoted/suppressed tokens below are computed live from the weights.")
        return "\n\n".join(lines), "", None, logit_lens(rt.subject, sae, fid)
    lines += label_markdown(dash)
    lines.append(
        f"Density: fires on **{dash.density:.3%}** of {dash.n_tokens:,} sampled tokens · "
        f"median **{dash.median:.2f}**, 99th percentile **{dash.p99:.2f}**, "
        f"max **{dash.max_activation:.2f}** (non-zero activations)"
    )
    return (
        "\n\n".join(lines),
        contexts_html(dash.top_contexts, dash.levels, dash.max_activation),
        histogram_figure(dash.histogram_edges, dash.histogram_counts, fid),
        lens_table(dash.promoted, dash.suppressed),
    )


@user_errors
def on_search(query: str, n):
    """Features whose labels and contexts match `query` (core/feature_search.py)."""
    rt = runtime.get()
    if rt.sae_dir is None or not has_dashboard(rt.sae_dir):
        return unavailable("search needs the SAE's dashboard (python -m training dashboard)"), []
    from core.feature_search import search_features

    hits = search_features(rt.sae_dir, query, as_int(n, "how many", 1, 200))
    rows = [
        [
            h.feature,
            round(h.score, 3),
            "" if h.detection is None else h.detection,
            h.label,
            h.examples,
        ]  # fmt: skip
        for h in hits
    ]
    return f"{len(rows)} features for “{query.strip()}”, best match first. Click one.", rows


def on_pick_row(evt: gr.SelectData):
    """A clicked search row: its feature id."""
    row = evt.row_value or []
    try:
        return int(row[0])
    except (IndexError, TypeError, ValueError):
        return gr.skip()


@user_errors
def on_rank_load():
    """The most censorship-specific features of the current SAE (core/discovery.py)."""
    try:
        import core.discovery  # noqa: F401
    except ImportError:
        return unavailable("the censorship ranking (core/discovery.py is missing)."), []
    what, ranked = ranking(compute=True)
    sae = runtime.get().sae
    labels, causal = sae.labels(), sae.causal_scores("answer")
    contrast = {s.feature: s for s in ranked}
    order = display_order(ranked, causal)
    rows = []
    for i, f in enumerate(order):
        c = contrast.get(f)
        rows.append([
            i + 1, f, round(causal[f], 3) if f in causal else "",
            round(c.effect, 3) if c else "", round(c.auroc, 3) if c else "", labels.get(f, ""),
        ])  # fmt: skip
    if not rows:
        return f"No feature fires more on the censored side ({what}).", []
    if causal:
        src = sae.card["causal_scores"].get("what", "stored attribution")
        return (
            f"Ranked by causal score ({src}; a high score: ablating the feature should push the "
            f"model off its censored answer), with the contrast scores of {what} beside it.",
            rows,
        )
    return f"Ranked by effect size: {what}. No causal scores stored for this SAE.", rows


def on_rank_pick(evt: gr.SelectData):
    row = evt.row_value or []
    try:
        return int(row[1])
    except (IndexError, TypeError, ValueError):
        return gr.skip()


@user_errors
def on_add_to_recipe(recipe: str, feature_id, mode: str, value):
    """Add the looked-up feature to the Inspect & Steer recipe."""
    from ui.inspect_tab import on_add_edit

    if feature_id in (None, ""):
        raise BadInputError("look up a feature first")
    return on_add_edit(recipe, feature_id, mode, value, "all"), f"Added feature #{int(feature_id)}."


@user_errors
def on_add_top(recipe: str, n):
    """One click: ablate the top-n ranked features in the Inspect & Steer recipe.

    Features the recipe already edits keep the user's edit: the note lists them instead.
    """
    from ui import render
    from ui.inspect_tab import on_add_edit

    count = as_int(n, "top n", 1, 50)
    _, ranked = ranking(compute=False)
    if not ranked:
        raise BadInputError("rank the features first")
    top = display_order(ranked, runtime.get().sae.causal_scores("answer"))[:count]
    edited = {e.feature for e in render.parse_recipe(recipe)}
    added = [f for f in top if f not in edited]
    for feature in added:
        recipe = on_add_edit(recipe, feature, "ablate", 0, "all")
    names = ", ".join(f"#{f}" for f in added) or "nothing"
    note = f"Added ablations of {names} to the recipe."
    kept = [f for f in top if f in edited]
    if kept:
        note += f" Kept your edits of {', '.join(f'#{f}' for f in kept)} (not overwritten)."
    return recipe, note


def build_features_tab(recipe: gr.Code) -> dict:
    with gr.Row():
        search = gr.Textbox(
            label="Search features by meaning",
            placeholder="e.g. refusal, Tiananmen, stability, party line",
            scale=4,
            elem_id="feature-search",
        )
        search_n = gr.Number(value=20, precision=0, label="Results", min_width=80, scale=0)
        search_btn = gr.Button("Search", elem_id="feature-search-btn", scale=0)
    search_status = gr.Markdown("", elem_id="feature-search-status")
    hits = gr.Dataframe(
        headers=SEARCH_HEADERS, interactive=False, max_height=320, elem_id="feature-hits"
    )
    with gr.Row():
        with gr.Column(scale=2):
            with gr.Row():
                fid = raw_value(
                    gr.Number(label="Feature id", precision=0, value=None, elem_id="feature-id")
                )
                look_btn = gr.Button("Look up", variant="primary", elem_id="feature-lookup")
            summary = gr.Markdown(
                "Search above, or look up a feature by id.", elem_id="feature-summary"
            )
            contexts = gr.HTML(label="Top activating contexts", elem_id="feature-contexts")
            hist = gr.Plot(label="Activation histogram")
            lens = gr.Dataframe(
                headers=LOGIT_HEADERS,
                label="Output tokens promoted / suppressed",
                interactive=False,
            )
            with gr.Row():
                mode = gr.Radio(["ablate", "clamp", "scale", "add"], value="ablate", label="Edit")
                value = raw_value(gr.Number(value=0.0, label="Value"))
                add_btn = gr.Button("Add to recipe")
            added = gr.Markdown("")
        with gr.Column(scale=1):
            gr.Markdown("### Most censorship-specific features")
            rank_status = gr.Markdown(
                "Contrasts censored with uncensored text; takes a few seconds."
            )
            rank_btn = gr.Button("Rank features", elem_id="rank-btn")
            with gr.Row():
                top_n = raw_value(gr.Number(value=5, precision=0, label="Top n", min_width=80))
                top_btn = gr.Button("Ablate the top n in the recipe")
            ranked = gr.Dataframe(headers=RANK_HEADERS, interactive=False, max_height=600)

    outputs = [summary, contexts, hist, lens]
    look = look_btn.click(
        on_feature, [fid], outputs, api_name="feature",
        concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    fid.submit(on_feature, [fid], outputs, api_visibility="private")
    search_btn.click(
        on_search, [search, search_n], [search_status, hits], api_name="search_features"
    )
    search.submit(on_search, [search, search_n], [search_status, hits], api_visibility="private")
    hits.select(on_pick_row, None, [fid], api_visibility="private").then(
        on_feature, [fid], outputs, api_visibility="private"
    )
    rank_btn.click(
        on_rank_load, None, [rank_status, ranked], api_name="ranked_features",
        concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    ranked.select(on_rank_pick, None, [fid], api_visibility="private").then(
        on_feature, [fid], outputs, api_visibility="private"
    )
    add_btn.click(
        on_add_to_recipe, [recipe, fid, mode, value], [recipe, added], api_visibility="private"
    )
    top_btn.click(on_add_top, [recipe, top_n], [recipe, added], api_visibility="private")
    return {"look": look}
