"""censorscope app: inspect which SAE features fire per token, steer them, compare answers.

    python app.py                      # embedded default model + its shipped SAE
    python app.py --model tiny --sae DIR --port 7861

Layout and wiring only; the logic lives in core/.
"""

import argparse

import gradio as gr

from core.compare import stream_compare
from core.edits import parse_edit_args
from core.errors import CensorscopeError
from core.generate import GenerationSettings
from core.inspect import inspect_prompt
from core.model import load_subject
from core.sae import load_sae
from core.settings import AppSettings

SUBJECT = None
SAE = None


def on_inspect(prompt: str, top_k: int):
    try:
        result = inspect_prompt(SUBJECT, SAE, prompt, top_k=int(top_k))
    except CensorscopeError as err:
        raise gr.Error(str(err)) from err
    spans = []
    for tok, top in zip(result.tokens, result.top_features, strict=True):
        spans.append((tok, f"#{top[0][0]}" if top else None))
    table = [[f, round(a, 3), n] for f, a, n in result.prompt_top[:20]]
    return spans, table


def on_compare(prompt: str, ablate: str, max_new_tokens: int, seed: int):
    try:
        ids = [int(x) for x in ablate.replace(",", " ").split()] if ablate.strip() else []
        edits = parse_edit_args(ablate=ids)
        settings = GenerationSettings(max_new_tokens=int(max_new_tokens), seed=int(seed))
        for update in stream_compare(SUBJECT, SAE, prompt, edits, settings):
            yield update.baseline, update.steered
    except (CensorscopeError, ValueError) as err:
        raise gr.Error(str(err)) from err


def build_app() -> gr.Blocks:
    with gr.Blocks(title="censorscope") as demo:
        gr.Markdown(f"# censorscope\nSubject: **{SUBJECT.name}** · SAE hook `{SAE.hook_name}`")
        prompt = gr.Textbox(label="Prompt", value="What happened at Tiananmen Square in 1989?")
        top_k = gr.Slider(1, 20, value=5, step=1, label="Top features per token")
        inspect_btn = gr.Button("Inspect")
        tokens = gr.HighlightedText(label="Tokens (top feature)")
        table = gr.Dataframe(headers=["feature", "max act", "tokens"], label="Top features")
        ablate = gr.Textbox(label="Ablate features (ids)")
        with gr.Row():
            max_new = gr.Number(value=96, label="Max new tokens", precision=0)
            seed = gr.Number(value=0, label="Seed", precision=0)
        compare_btn = gr.Button("Generate")
        with gr.Row():
            baseline = gr.Textbox(label="Baseline", lines=8)
            steered = gr.Textbox(label="Steered", lines=8)
        inspect_btn.click(on_inspect, [prompt, top_k], [tokens, table], api_name="inspect")
        compare_btn.click(
            on_compare, [prompt, ablate, max_new, seed], [baseline, steered], api_name="compare"
        )
    return demo


def main() -> None:
    global SUBJECT, SAE
    settings = AppSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=settings.model)
    parser.add_argument("--sae", default=settings.sae)
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args()
    settings = AppSettings(model=args.model, sae=args.sae, host=args.host, port=args.port)
    SUBJECT = load_subject(settings.model, device=settings.device, adapter=settings.adapter)
    SAE = load_sae(settings.sae_spec(), SUBJECT)
    build_app().queue(default_concurrency_limit=1).launch(
        server_name=settings.host, server_port=settings.port
    )


if __name__ == "__main__":
    main()
