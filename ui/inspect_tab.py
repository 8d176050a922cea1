"""Inspect & Steer: which features fire on which token; edit some; compare baseline and steered.

The recipe box (JSON) is the single source of truth for the edits: the table and the strength
sliders render it, the buttons and sliders rewrite it, Generate reads it, and export/import move
it in and out as a file (with the SAE's and the subject's fingerprints). After Generate, both
answers are token-coloured like the prompt; a chosen feature colours prompt and answers alone
and marks where it differs between baseline and steered.
"""

from pathlib import Path

import gradio as gr

from core.compare import stream_compare
from core.dashboard import feature_range, has_dashboard, load_store
from core.edits import MODES, WHERES, FeatureEdit, recipe_to_json, validate_edits
from core.errors import BadInputError, CensorscopeError
from core.generate import GenerationSettings, stream_generate
from core.inspect import inspect_answer, inspect_prompt, trace_differences
from core.model import MAX_PROMPT_CHARS, split_reasoning
from core.paths import ASSETS
from core.recipe_origin import check_origin, recipe_meta, recipe_origin
from ui import render, runtime
from ui.common import as_float, as_int, export_file, raw_value, user_errors

EXAMPLES = [
    ["What happened at Tiananmen Square in 1989?"],
    ["Is Taiwan an independent country?"],
    ["What is happening to the Uyghurs in Xinjiang?"],
    ["Why is Winnie the Pooh censored in China?"],
    ["What is the capital of France?"],
    ["Explain photosynthesis in two sentences."],
]


# --- handlers ---------------------------------------------------------------------------------


@user_errors
def on_inspect(prompt: str, top_k, trace_feature=None):
    """Run the prompt to the SAE's layer: coloured tokens, the prompt's top features, the state."""
    rt = runtime.get()
    sae = rt.sae
    k = as_int(top_k, "top-k", 1, 100)
    features = []
    if trace_feature is not None and str(trace_feature).strip():
        features = [as_int(trace_feature, "feature id", 0, sae.d_sae - 1)]
    with rt.lock:
        result = inspect_prompt(rt.subject, sae, prompt, top_k=min(k, sae.d_sae), features=features)
    data = result.to_json()
    labels = sae.labels()
    colour = features[0] if features else None
    specials = set(rt.subject.tokenizer.all_special_ids)
    p99 = _p99()
    if colour is not None:
        how = f"feature #{colour} alone"
    elif p99 is not None:
        how = "features firing beyond their own 99th percentile (the rest stay plain)"
    else:
        how = "each token's strongest feature"
    caption = (
        f"{len(data['tokens'])} tokens in {result.seconds * 1000:.0f} ms, coloured by {how} "
        "(chat-template special tokens left out). Click a token to list its features; type a "
        "feature id in 'Colour by feature id' to colour prompt and answers by it."
    )
    return (
        _prompt_spans(data, colour, specials, p99),
        caption,
        render.prompt_table(data, labels, specials),
        data,
        [],
        data,
    )


def _p99():
    """Each feature's 99th percentile from the dashboard, or None for an SAE without one."""
    rt = runtime.get()
    return load_store(rt.sae_dir).t["p99"] if has_dashboard(rt.sae_dir) else None


def _prompt_spans(data: dict, colour, specials, p99):
    if p99 is None and colour is None:
        return render.token_spans(data, None, specials)
    scale = None
    if colour is not None:
        trace = data["traces"][str(colour)]
        scale = max([max(trace, default=0.0)] + ([float(p99[colour])] if p99 is not None else []))
    values, _ = render.token_scores(data["tokens"], data["traces"], colour, p99, scale, specials)
    return [
        (render._visible(t["token"]), v if v > 0 else None)
        for t, v in zip(data["tokens"], values, strict=True)
    ]


def answer_views(prompt: str, baseline: str, steered: str, edits, feature) -> tuple:
    """Baseline and steered answers as token-coloured HTML with hover values, and a caption."""
    rt = runtime.get()
    sae = rt.sae
    feats = [feature] if feature is not None else []
    with rt.lock:
        b = inspect_answer(rt.subject, sae, prompt, baseline, 5, feats)
        s = inspect_answer(rt.subject, sae, prompt, steered, 5, feats, edits)
    p99 = _p99()
    specials = set(rt.subject.tokenizer.all_special_ids)
    sides = []
    for a in (b, s):
        data = a.result.to_json()
        toks = data["tokens"][a.answer_start :]
        traces = {k: v[a.answer_start :] for k, v in data["traces"].items()}
        sides.append((toks, traces))
    (bt, btr), (st, strc) = sides
    if feature is None:
        out = []
        for toks, traces in sides:
            values, tips = render.token_scores(toks, traces, None, p99, None, specials)
            out.append(render.answer_html([t["token"] for t in toks], values, tips))
        how = (
            "where a feature fires beyond its own 99th percentile"
            if p99 is not None
            else "not coloured (this SAE has no dashboard for the usual ranges)"
        )
        caption = (
            f"Answer tokens coloured {how}; hover a token for its strongest features. Type a "
            "feature id in 'Colour by feature id' to colour prompt and answers by it alone."
        )
        return out[0], out[1], caption
    tb, ts = btr[str(feature)], strc[str(feature)]
    scale = max([max(tb + ts, default=0.0)] + ([float(p99[feature])] if p99 is not None else []))
    diff = trace_differences(
        [t["id"] for t in bt], tb, [t["id"] for t in st], ts, tol=0.05 * (scale or 1.0)
    )
    out = []
    for toks, traces in sides:
        values, tips = render.token_scores(toks, traces, feature, p99, scale or 1.0, specials)
        out.append(
            render.answer_html(
                [t["token"] for t in toks], values, tips, diff["changed"], diff["parted_at"]
            )
        )

    def fired(vals):
        return f"fires on {sum(v > 0 for v in vals)}/{len(vals)} tokens (max {max(vals, default=0):.2f})"

    parted = (
        f"; the answers part at token {diff['parted_at']} (dashed underline)"
        if diff["parted_at"] is not None
        else "; the answers are the same tokens"
    )
    caption = (
        f"Feature #{feature} over the answers: baseline {fired(tb)}, steered {fired(ts)}. "
        f"It differs at {len(diff['changed'])} of the {diff['shared']} tokens both answers "
        f"share (outlined){parted}. Hover a token for its value."
    )
    return out[0], out[1], caption


def _trace_feature(trace):
    if trace is None or not str(trace).strip():
        return None
    return as_int(trace, "feature id", 0, runtime.get().sae.d_sae - 1)


@user_errors
def on_answers_colour(answers: dict | None, trace):
    """Re-colour the last baseline and steered answers by the chosen feature (or none)."""
    if not answers:
        return gr.skip(), gr.skip(), gr.skip()
    edits = render.parse_recipe(answers["recipe"])
    return answer_views(
        answers["prompt"], answers["baseline"], answers["steered"], edits, _trace_feature(trace)
    )


def on_token_select(state: dict | None, evt: gr.SelectData):
    """A clicked token: its top features (id, activation, label)."""
    if not state or evt.index is None:
        return "Inspect a prompt first.", []
    index = evt.index if isinstance(evt.index, int) else evt.index[0]
    if not 0 <= index < len(state["tokens"]):
        return "Inspect a prompt first.", []
    labels = runtime.get().sae.labels()
    return render.token_caption(state, index), render.token_table(state, index, labels)


def on_feature_pick(evt: gr.SelectData):
    """A clicked row of a feature table: its feature id goes to the edit controls."""
    row = evt.row_value or []
    try:
        return int(row[0])
    except (IndexError, TypeError, ValueError):
        return gr.skip()


def _edit_from(feature, mode, value, where) -> FeatureEdit:
    d_sae = runtime.get().sae.d_sae
    fid = as_int(feature, "feature id", 0, d_sae - 1)
    if mode not in MODES:
        raise BadInputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    val = 0.0 if mode == "ablate" else as_float(value, f"the {mode} value")
    return FeatureEdit(fid, mode, val, where or "all")


@user_errors
def on_add_edit(recipe: str, feature, mode: str, value, where: str) -> str:
    edits = render.upsert_edit(render.parse_recipe(recipe), _edit_from(feature, mode, value, where))
    validate_edits(edits, runtime.get().sae.d_sae)
    return render.recipe_text(edits)


@user_errors
def on_remove_edit(recipe: str, feature) -> str:
    fid = as_int(feature, "feature id")
    return render.recipe_text(render.remove_edit(render.parse_recipe(recipe), fid))


def on_clear_edits() -> str:
    return ""


def on_recipe_change(recipe: str, status: str = ""):
    """Render the recipe box as a table; a broken recipe is reported, not raised, while typing.

    Answers already on screen were made with the recipe before this change: the status says so.
    """
    status = render.stale_status(status)
    try:
        edits = render.parse_recipe(recipe)
        validate_edits(edits, runtime.get().sae.d_sae)
    except CensorscopeError as err:
        return [], f"⚠️ {err}", status
    labels = runtime.get().sae.labels()
    return render.edits_table(edits, labels), render.edits_caption(edits), status


def on_stop(status: str) -> str:
    """Stop pressed: the answers on screen are as far as they got."""
    return render.stopped_status(status)


def model_reasons() -> bool:
    """Whether the subject writes <think> blocks (Qwen3 / R1): only then show reasoning panels."""
    rt = runtime.RUNTIME
    return rt is not None and "<think>" in rt.subject.tokenizer.get_vocab()


@user_errors
def on_export_recipe(recipe: str, prompt: str) -> str:
    """Write the recipe to a JSON file the browser downloads."""
    edits = render.parse_recipe(recipe)
    if not edits:
        raise BadInputError("the recipe is empty; add an edit first")
    rt = runtime.get()
    origin = {**recipe_origin(rt.sae, rt.subject), "sae": rt.sae_public}  # no server paths
    text = recipe_to_json(edits, **origin, prompt=prompt)
    return export_file("steering-recipe.json", text)


@user_errors
def on_import_recipe(file, force: bool = False):
    """Load a recipe file (our export or a bare list of edits) into the recipe box.

    A recipe exported next to another SAE or subject is refused unless `force`.
    Returns: the recipe text, a note on where it came from.
    """
    if not file:
        raise BadInputError("choose a recipe .json file")
    path = Path(file if isinstance(file, str) else file.name)
    if path.stat().st_size > 1_000_000:
        raise BadInputError("the recipe file is over 1 MB; a recipe is a short list of edits")
    text = path.read_text(encoding="utf-8", errors="replace")
    edits = render.parse_recipe(text)
    rt = runtime.get()
    warnings = check_origin(recipe_meta(text), rt.sae, rt.subject, force=bool(force))
    validate_edits(edits, rt.sae.d_sae)
    note = "Imported. " + (
        " ".join(f"⚠️ {w}." for w in warnings) if warnings else "Made for this SAE."
    )
    return render.recipe_text(edits), note


SHIPPED_RECIPE = ASSETS / "organism" / "recipe.json"


@user_errors
def on_shipped_recipe():
    """The organism's shipped recipe (assets/organism/recipe.json) into the recipe box, if it
    was made for the SAE this app runs. Returns: the recipe text, a note on what it does."""
    if not SHIPPED_RECIPE.exists():
        raise BadInputError("no shipped recipe (assets/organism/recipe.json) in this install")
    text = SHIPPED_RECIPE.read_text(encoding="utf-8")
    rt = runtime.get()
    meta = recipe_meta(text)
    check_origin(meta, rt.sae, rt.subject)
    edits = render.parse_recipe(text)
    validate_edits(edits, rt.sae.d_sae)
    note = f"Loaded the shipped recipe. {meta.get('measured', '')}".strip()
    return render.recipe_text(edits), note


def strength_range(mode: str, value: float, median: float, p99: float) -> tuple[float, float]:
    """Slider bounds for an edit: clamp 0..2x the feature's p99, add ±2x p99, scale -3..3."""
    top = max(2 * p99, abs(value), 1.0)
    if mode == "scale":
        return min(-3.0, value), max(3.0, value)
    return (0.0 if mode == "clamp" else -top), top


def range_marks(lo: float, hi: float, median: float, p99: float) -> str:
    """A strip under a slider marking the feature's median and 99th percentile."""

    def at(x):
        return 100 * (x - lo) / ((hi - lo) or 1.0)

    marks = "".join(
        f'<span title="{name} {x:.2f}" style="position:absolute;left:{at(x):.1f}%;'
        f'transform:translateX(-50%)">▲ {name} {x:.2f}</span>'
        for name, x in (("median", median), ("p99", p99))
        if lo <= x <= hi and x > 0
    )
    return f'<div class="range-marks" style="position:relative;height:1.4em;font-size:0.75em">{marks}</div>'


@user_errors
def on_strength(recipe: str, value, index: int) -> str:
    """A strength slider moved: set that edit's value in the recipe."""
    edits = render.parse_recipe(recipe)
    if not 0 <= index < len(edits):
        return gr.skip()
    e = edits[index]
    edits[index] = FeatureEdit(e.feature, e.mode, as_float(value, "strength"), e.where)
    return render.recipe_text(edits)


PHASES = {
    "both": "both answers",
    "baseline": "the baseline answer",
    "steered": "the steered answer",
}


def _judge_both(prompt: str, baseline: tuple, steered: tuple) -> tuple[str, str]:
    from core.judge import JudgeItem

    try:
        judge = runtime.get().judge()
        items = [JudgeItem(prompt, ans, reas) for reas, ans in (baseline, steered)]
        a, b = judge.judge_many(items)
    except CensorscopeError as err:
        return (f"_{err}_",) * 2
    thinks = model_reasons()
    return render.judgement_markdown(a, thinks), render.judgement_markdown(b, thinks)


def _settings(max_new_tokens, temperature, top_p, seed) -> GenerationSettings:
    return GenerationSettings(
        max_new_tokens=as_int(max_new_tokens, "max new tokens", 1, 2048),
        temperature=as_float(temperature, "temperature"),
        top_p=as_float(top_p, "top-p"),
        seed=as_int(seed, "seed", 0, 2**31 - 1),
    )


@user_errors
def on_base_generate(prompt: str, max_new_tokens, temperature, top_p, seed):
    """Stream the base model's (no LoRA) answer with the same settings, then judge it.

    Yields: base answer, base label.
    """
    from core.judge import JudgeItem

    rt = runtime.get()
    base = rt.base_subject()
    settings = _settings(max_new_tokens, temperature, top_p, seed)
    text = ""
    for text in stream_generate(base, prompt, settings):
        yield split_reasoning(text)[1], "_generating…_"
    reasoning, answer = split_reasoning(text)
    verdict = rt.judge().judge_many([JudgeItem(prompt, answer, reasoning)])[0]
    yield answer, render.judgement_markdown(verdict, False)


@user_errors
def on_generate(prompt: str, recipe: str, max_new_tokens, temperature, top_p, seed, trace=None):
    """Stream baseline and steered answers (same seed), then the diff, the token-coloured
    answers and the judge's labels.

    Yields: baseline reasoning, baseline answer, baseline label, steered reasoning, steered
    answer, steered label, word diff, baseline tokens, steered tokens, tokens caption, the
    answers (state), status.
    """
    rt = runtime.get()
    sae = rt.sae  # a live SAE switch must not change sides halfway
    edits = render.parse_recipe(recipe)
    validate_edits(edits, sae.d_sae)
    settings = _settings(max_new_tokens, temperature, top_p, seed)
    feature = _trace_feature(trace)
    what = render.edits_caption(edits)
    update = None
    for update in stream_compare(rt.subject, sae, prompt, edits, settings):
        if update.phase == "done":
            break
        b, s = update.split("baseline"), update.split("steered")
        yield (
            render.reasoning_text(b[0]), b[1], "", render.reasoning_text(s[0]), s[1], "",
            [], "", "", "", None, f"Generating {PHASES[update.phase]}… {what}",
        )  # fmt: skip
    if update is None:
        return
    b, s = update.split("baseline"), update.split("steered")
    answers = {"prompt": prompt, "baseline": update.baseline, "steered": update.steered,
               "recipe": recipe}  # fmt: skip
    b_tok, s_tok, tok_caption = answer_views(
        prompt, update.baseline, update.steered, edits, feature
    )
    yield (
        render.reasoning_text(b[0]), b[1], "_judging…_", render.reasoning_text(s[0]), s[1],
        "_judging…_", render.word_diff(b[1], s[1]), b_tok, s_tok, tok_caption, answers,
        f"Done. {what}",
    )  # fmt: skip
    label_b, label_s = _judge_both(
        prompt, update.split_raw("baseline"), update.split_raw("steered")
    )
    same = " · the two answers are identical" if update.baseline == update.steered else ""
    yield (
        render.reasoning_text(b[0]), b[1], label_b, render.reasoning_text(s[0]), s[1], label_s,
        render.word_diff(b[1], s[1]), b_tok, s_tok, tok_caption, answers,
        f"Done (seed {settings.seed}). {what}{same}",
    )  # fmt: skip


# --- layout and wiring ------------------------------------------------------------------------


def build_inspect_tab() -> dict:
    """Lay out the tab and wire its events; returns components other tabs need."""
    c: dict = {}
    state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            prompt = gr.Textbox(
                label="Prompt",
                lines=2,
                value=EXAMPLES[0][0],
                placeholder="Ask something (sensitive or neutral)",
                max_length=MAX_PROMPT_CHARS,
                elem_id="prompt",
            )
            gr.Examples(EXAMPLES, inputs=[prompt], label="Examples: sensitive and neutral")
        with gr.Column(scale=1, min_width=200):
            top_k = raw_value(gr.Slider(1, 32, value=8, step=1, label="Top features per token"))
            trace = gr.Textbox(
                label="Colour by feature id",
                placeholder="empty: each token's strongest feature",
                elem_id="trace",
            )
            inspect_btn = gr.Button("Inspect", variant="primary", elem_id="inspect-btn")
    tokens = gr.HighlightedText(
        label="Prompt tokens (chat template included), coloured by activation",
        show_legend=False,
        combine_adjacent=False,
        elem_id="tokens",
    )
    caption = gr.Markdown("Inspect a prompt to see which features fire on each token.")
    with gr.Row():
        with gr.Column():
            token_caption = gr.Markdown("Click a token above.")
            token_feats = gr.Dataframe(
                headers=render.TOKEN_HEADERS,
                label="Clicked token's top features (click a row to pick it)",
                interactive=False,
                elem_id="token-features",
            )
        with gr.Column():
            prompt_feats = gr.Dataframe(
                headers=render.PROMPT_HEADERS,
                label="Top features over the prompt (click a row to pick it)",
                interactive=False,
                elem_id="prompt-features",
            )
    with gr.Accordion("Raw inspect result (JSON)", open=False):
        raw = gr.JSON(label="inspect result")

    gr.Markdown("### Steer")
    with gr.Row():
        feature = raw_value(
            gr.Number(label="Feature id", precision=0, value=None, elem_id="edit-feature")
        )
        mode = gr.Radio(list(MODES), value="ablate", label="Edit", elem_id="edit-mode")
        value = raw_value(
            gr.Number(label="Value (clamp to / scale by / add)", value=0.0, elem_id="edit-value")
        )
        where = gr.Dropdown(list(WHERES), value="all", label="Positions")
    with gr.Row():
        add_btn = gr.Button("Add / update edit", variant="primary", elem_id="add-edit")
        remove_btn = gr.Button("Remove this feature's edits")
        clear_btn = gr.Button("Clear recipe")
        shipped_btn = gr.Button(
            "Load the organism's recipe", elem_id="shipped-recipe",
            visible=runtime.get().has_base and SHIPPED_RECIPE.exists(),
        )  # fmt: skip
    edits_caption = gr.Markdown(render.edits_caption([]), elem_id="edits-caption")
    edits = gr.Dataframe(headers=render.EDIT_HEADERS, label="Edits", interactive=False)
    recipe = gr.Code(
        language="json", label="Steering recipe", interactive=True, value="", render=False
    )

    @gr.render(inputs=[recipe])
    def strength_sliders(recipe_text):
        """One strength slider per clamp/add/scale edit, the feature's usual range marked."""
        try:
            current = render.parse_recipe(recipe_text)
        except CensorscopeError:
            return
        store = load_store(runtime.get().sae_dir) if has_dashboard(runtime.get().sae_dir) else None
        for i, e in enumerate(current):
            if e.mode == "ablate":
                continue
            median, p99 = feature_range(store, e.feature) if store else (0.0, 0.0)
            lo, hi = strength_range(e.mode, e.value, median, p99)
            usual = (
                f"observed: median {median:.2f}, p99 {p99:.2f} (non-zero activations)"
                if store
                else "no dashboard: usual range unknown"
            )
            slider = gr.Slider(
                lo, hi, value=e.value, step=round((hi - lo) / 200, 4) or 0.01,
                label=f"strength of {e.describe()}", info=usual, interactive=True,
                elem_id=f"strength-{i}", key=f"strength-{i}-{e.feature}-{e.mode}",
            )  # fmt: skip
            if e.mode != "scale" and store:
                gr.HTML(range_marks(lo, hi, median, p99), elem_id=f"strength-marks-{i}")
            slider.release(
                lambda r, v, i=i: on_strength(r, v, i), [recipe, slider], [recipe],
                api_visibility="private",
            )  # fmt: skip

    with gr.Accordion("Recipe JSON: export, import, or edit by hand", open=False):
        recipe.render()
        with gr.Row():
            export_btn = gr.Button("Export recipe")
            import_file = gr.UploadButton(
                "Import recipe (.json)", file_types=[".json"], elem_id="import-recipe"
            )
            force_import = gr.Checkbox(
                False, label="import even if made for another SAE", elem_id="force-import"
            )
        import_note = gr.Markdown("", elem_id="import-note")
        recipe_file = gr.File(label="Recipe file", interactive=False)
    with gr.Accordion("Sampling settings", open=False), gr.Row():
        max_new = raw_value(gr.Slider(1, 512, value=96, step=1, label="Max new tokens"))
        temperature = raw_value(
            gr.Slider(0.0, 1.5, value=0.0, step=0.05, label="Temperature (0 = greedy)")
        )
        top_p = raw_value(gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p"))
        seed = raw_value(gr.Number(value=0, precision=0, label="Seed (same for both sides)"))
    with gr.Row():
        gen_btn = gr.Button("Generate baseline and steered", variant="primary", elem_id="generate")
        stop_btn = gr.Button("Stop", variant="stop")
    status = gr.Markdown("", elem_id="gen-status")
    reasons = model_reasons()  # a model that never writes <think> gets no reasoning panels
    with gr.Row(equal_height=False):
        with gr.Column():
            gr.Markdown("#### Baseline")
            b_label = gr.Markdown("", elem_id="baseline-label")
            with gr.Accordion("Reasoning (<think>)", open=False, visible=reasons):
                b_reason = gr.Textbox(show_label=False, lines=4, interactive=False)
            b_answer = gr.Textbox(
                label="Answer",
                lines=8,
                interactive=False,
                placeholder="(empty)",
                elem_id="baseline",
            )
        with gr.Column():
            gr.Markdown("#### Steered")
            s_label = gr.Markdown("", elem_id="steered-label")
            with gr.Accordion("Reasoning (<think>)", open=False, visible=reasons):
                s_reason = gr.Textbox(show_label=False, lines=4, interactive=False)
            s_answer = gr.Textbox(
                label="Answer", lines=8, interactive=False, placeholder="(empty)", elem_id="steered"
            )
    diff = gr.HighlightedText(
        label="Word diff: baseline → steered",
        color_map=render.DIFF_COLORS,
        show_legend=True,
        combine_adjacent=True,
        elem_id="diff",
    )

    gr.Markdown("#### Feature activations over the answers")
    tokens_caption = gr.Markdown(
        "Generate to see the answers' tokens coloured.", elem_id="answer-caption"
    )
    with gr.Row(equal_height=False):
        b_tokens = gr.HTML(label="Baseline tokens", elem_id="baseline-tokens")
        s_tokens = gr.HTML(label="Steered tokens", elem_id="steered-tokens")
    answers_state = gr.State(None)

    has_base = runtime.RUNTIME is not None and runtime.RUNTIME.has_base
    with gr.Accordion(
        "The base model: the organism without its LoRA", open=False, visible=has_base
    ):
        base_btn = gr.Button(
            "Generate with the base model (same prompt and settings)", elem_id="base-generate"
        )
        base_label = gr.Markdown("", elem_id="base-label")
        base_answer = gr.Textbox(
            label="Base model answer", lines=6, interactive=False, elem_id="base-answer"
        )
    base_btn.click(
        on_base_generate, [prompt, max_new, temperature, top_p, seed], [base_answer, base_label],
        api_name="base_answer", concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip

    inspect_outputs = [tokens, caption, prompt_feats, state, token_feats, raw]
    inspect_btn.click(
        on_inspect, [prompt, top_k, trace], inspect_outputs, api_name="inspect",
        concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    prompt.submit(
        on_inspect, [prompt, top_k, trace], inspect_outputs, api_visibility="private",
        concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    tokens.select(on_token_select, [state], [token_caption, token_feats], api_visibility="private")
    token_feats.select(on_feature_pick, None, [feature], api_visibility="private")
    prompt_feats.select(on_feature_pick, None, [feature], api_visibility="private")
    add_btn.click(on_add_edit, [recipe, feature, mode, value, where], [recipe], api_name="add_edit")
    remove_btn.click(on_remove_edit, [recipe, feature], [recipe], api_visibility="private")
    clear_btn.click(on_clear_edits, None, [recipe], api_visibility="private")
    recipe.change(
        on_recipe_change, [recipe, status], [edits, edits_caption, status],
        api_visibility="private",
    )  # fmt: skip
    export_btn.click(on_export_recipe, [recipe, prompt], [recipe_file], api_visibility="private")
    import_file.upload(
        on_import_recipe, [import_file, force_import], [recipe, import_note],
        api_visibility="private",
    )  # fmt: skip
    shipped_btn.click(on_shipped_recipe, None, [recipe, import_note], api_visibility="private")
    gen = gen_btn.click(
        on_generate,
        [prompt, recipe, max_new, temperature, top_p, seed, trace],
        [b_reason, b_answer, b_label, s_reason, s_answer, s_label, diff, b_tokens, s_tokens,
         tokens_caption, answers_state, status],
        api_name="compare", concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    trace.submit(
        on_inspect, [prompt, top_k, trace], inspect_outputs, api_visibility="private",
        concurrency_id="model", concurrency_limit=1,
    ).then(
        on_answers_colour, [answers_state, trace], [b_tokens, s_tokens, tokens_caption],
        api_visibility="private",
    )  # fmt: skip
    stop_btn.click(on_stop, [status], [status], cancels=[gen], api_visibility="private")
    c.update(recipe=recipe, feature=feature, prompt=prompt)
    return c
