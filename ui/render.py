"""Pure functions turning core results into component values. No gradio, no model: easy to test.

Example: `token_spans(inspect_prompt(...).to_json())` is a gr.HighlightedText value.
"""

import difflib
import re
import time

from core.edits import FeatureEdit, recipe_from_json, recipe_to_json

EDIT_HEADERS = ["feature", "mode", "value", "where", "label"]
TOKEN_HEADERS = ["feature", "activation", "label"]
PROMPT_HEADERS = ["feature", "max activation", "tokens (in top-k)", "label"]
DIFF_COLORS = {"removed": "#fca5a5", "added": "#86efac"}


def token_spans(
    result: dict, feature: int | None = None, skip_ids: set[int] = frozenset()
) -> list[tuple[str, float | None]]:
    """HighlightedText value: each token with a score in [0, 1] (its activation / the max).

    Coloured by the strongest feature of each token, or by `feature` when its trace is present.
    Tokens in `skip_ids` (chat-template specials: attention sinks with outsized activations) are
    left uncoloured so they do not wash out the rest.
    """
    tokens = result["tokens"]
    trace = result.get("traces", {}).get(str(feature)) if feature is not None else None
    if trace is not None:
        acts = [max(v, 0.0) for v in trace]
    else:
        acts = [t["top"][0]["act"] if t["top"] else 0.0 for t in tokens]
    acts = [0.0 if t["id"] in skip_ids else a for t, a in zip(tokens, acts, strict=True)]
    peak = max(acts, default=0.0) or 1.0
    return [
        (_visible(t["token"]), round(a / peak, 3) if a > 0 else None)
        for t, a in zip(tokens, acts, strict=True)
    ]


def _visible(token: str) -> str:
    """Keep tokens clickable: an empty or newline-only token would render as nothing."""
    if token == "":
        return "∅"
    return token.replace("\n", "↵\n")


def token_table(result: dict, index: int, labels: dict[int, str]) -> list[list]:
    """Top features of token `index`: [feature, activation, label] rows."""
    top = result["tokens"][index]["top"]
    return [[t["feature"], round(t["act"], 3), labels.get(t["feature"], "")] for t in top]


def token_caption(result: dict, index: int) -> str:
    tok = result["tokens"][index]
    n = len(tok["top"])
    return f"Token {index} `{tok['token']!r}` (id {tok['id']}): {n} active feature(s) in its top-k"


def prompt_table(
    result: dict, labels: dict[int, str], skip_ids: set[int] = frozenset(), limit: int = 30
) -> list[list]:
    """Features ranked by max activation over the prompt's tokens, specials in `skip_ids` left out.

    Built from each token's top-k, so 'tokens' counts the tokens where the feature is in the top-k.
    """
    best: dict[int, list] = {}
    for tok in result["tokens"]:
        if tok["id"] in skip_ids:
            continue
        for t in tok["top"]:
            row = best.setdefault(t["feature"], [t["feature"], 0.0, 0])
            row[1], row[2] = max(row[1], t["act"]), row[2] + 1
    ranked = sorted(best.values(), key=lambda r: -r[1])[:limit]
    return [[f, round(a, 3), n, labels.get(f, "")] for f, a, n in ranked]


def parse_recipe(text: str | None) -> list[FeatureEdit]:
    """The recipe box's JSON as edits; empty text means no edits."""
    if not text or not text.strip():
        return []
    return recipe_from_json(text)


def recipe_text(edits: list[FeatureEdit]) -> str:
    return recipe_to_json(edits) if edits else ""


def upsert_edit(edits: list[FeatureEdit], edit: FeatureEdit) -> list[FeatureEdit]:
    """Replace the edit on the same feature and positions, or append a new one."""
    kept = [e for e in edits if not (e.feature == edit.feature and e.where == edit.where)]
    return [*kept, edit]


def remove_edit(edits: list[FeatureEdit], feature: int) -> list[FeatureEdit]:
    return [e for e in edits if e.feature != feature]


def edits_table(edits: list[FeatureEdit], labels: dict[int, str]) -> list[list]:
    return [[e.feature, e.mode, e.value, e.where, labels.get(e.feature, "")] for e in edits]


def edits_caption(edits: list[FeatureEdit]) -> str:
    if not edits:
        return "No edits: the steered answer will equal the baseline."
    return "Recipe: " + ", ".join(e.describe() for e in edits)


_WORD = re.compile(r"\S+\s*")


def word_diff(before: str, after: str) -> list[tuple[str, str | None]]:
    """Word-level diff as HighlightedText spans: removed words, then added words, in order."""
    a, b = _WORD.findall(before or ""), _WORD.findall(after or "")
    spans: list[tuple[str, str | None]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            spans.append(("".join(a[i1:i2]), None))
            continue
        if i2 > i1:
            spans.append(("".join(a[i1:i2]), "removed"))
        if j2 > j1:
            spans.append(("".join(b[j1:j2]), "added"))
    return spans


def reasoning_text(reasoning: str | None) -> str:
    if reasoning is None:
        return "(no <think> block)"
    return reasoning or "(empty <think> block: reasoning suppressed)"


def judgement_markdown(judgement, reasoning_model: bool = True) -> str:
    """The judge's verdict on one answer, one line plus its rationale.

    Missing reasoning only means something for a model that writes <think> blocks.
    """
    label = judgement.label.replace("_", " ")
    flag = " · thought suppressed" if judgement.thought_suppressed and reasoning_model else ""
    return f"**Judge: {label}**{flag}  \n<small>{judgement.rationale} ({judgement.judge})</small>"


STALE = "⚠️ The recipe changed after these answers were generated; Generate again to see its effect."
STOPPED = "Stopped: the answers above are as far as generation got."


def stale_status(status: str | None) -> str:
    """The status line once the recipe changed: answers on screen no longer match it."""
    status = status or ""
    if not status or status.startswith(("⚠️ The recipe changed", "Generating")):
        return status
    return f"{STALE}  \n{status}"


def stopped_status(status: str | None) -> str:
    """The status line after Stop: no longer 'Generating…'."""
    status = status or ""
    if status.startswith("Generating") or not status:
        return STOPPED
    return status


JOB_HEADERS = ["id", "kind", "state", "progress", "started", "arguments"]


def jobs_table(jobs: list[dict]) -> list[list]:
    """Rows for the Admin jobs table from training.jobs.Job fields."""
    rows = []
    for j in jobs:
        progress = j.get("progress")
        started = j.get("started") or j.get("created")
        argv = j.get("argv") or []
        args = argv[argv.index(j.get("kind")) + 1 :] if j.get("kind") in argv else argv
        rows.append(
            [
                j.get("id", ""),
                j.get("kind", ""),
                j.get("state", ""),
                f"{progress:.0%}" if isinstance(progress, int | float) else "",
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "",
                " ".join(map(str, args)),
            ]
        )
    return rows


# --- feature colours over prompt and answers --------------------------------------------------


def token_scores(
    tokens: list[dict],
    traces: dict,
    feature: int | None,
    p99=None,
    scale: float | None = None,
    skip_ids: set[int] = frozenset(),
) -> tuple[list[float], list[str]]:
    """Colour intensity in [0, 1] and a hover text for each token of an inspect result.

    With a feature: its activation over `scale` (pass one scale for the prompt and both answers
    so their colours compare). Without one, and with each feature's 99th percentile `p99` known
    (the dashboard's), a token is coloured only where one of its features fires beyond its own
    usual range (activation / p99 >= 1): the unusual spots, not every token. Tips always list
    the token's strongest features.
    """
    values, tips = [], []
    trace = traces.get(str(feature)) if feature is not None else None
    for i, tok in enumerate(tokens):
        top = tok["top"][:3]
        tip = ", ".join(
            f"#{t['feature']} {t['act']:.2f}"
            + (f" (p99 {p99[t['feature']]:.2f})" if p99 is not None else "")
            for t in top
        )
        if trace is not None:
            act = max(trace[i], 0.0)
            values.append(0.0 if tok["id"] in skip_ids else min(act / (scale or 1.0), 1.0))
            tips.append(f"#{feature} = {act:.3f}" + (f" · top: {tip}" if tip else ""))
            continue
        if p99 is not None:
            rel = max(
                (t["act"] / p99[t["feature"]] for t in top if p99[t["feature"]] > 0), default=0
            )
            values.append(0.0 if tok["id"] in skip_ids or rel < 1 else min(rel / 2, 1.0))
        else:
            values.append(0.0)
        tips.append(tip or "no active feature")
    return values, tips


def answer_html(
    tokens: list[str], values: list[float], tips: list[str], changed=(), parted_at=None
) -> str:
    """Answer tokens as spans shaded by `values`, hover text `tips`; `changed` positions are
    outlined, positions from `parted_at` on (the answers differ there) underlined dashed."""
    import html as _html

    changed = set(changed)
    spans = []
    for i, (tok, v, tip) in enumerate(zip(tokens, values, tips, strict=True)):
        style = f"background: rgba(239,68,68,{v:.2f})" if v > 0 else ""
        cls = "tok"
        if i in changed:
            cls += " changed"
        if parted_at is not None and i >= parted_at:
            cls += " parted"
        text = _html.escape(_visible(tok))
        spans.append(
            f'<span class="{cls}" title="{_html.escape(tip)}" style="{style}">{text}</span>'
        )
    body = "".join(spans) or "<em>(empty)</em>"
    return f"<div class='answer-tokens'>{body}</div>"
