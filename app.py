"""censorscope app: see which SAE features fire on each token, steer them, compare the answers.

    python app.py                                    # embedded default model + its shipped SAE
    python app.py --model tiny --sae DIR --port 7861 # tiny random model (tests)
    CENSORSCOPE_ADMIN_TOKEN=... python app.py        # enables the Admin tab

Four tabs: Inspect & Steer, Features, Dataset, Admin. Layout and wiring only: each tab's builder
and handlers live in ui/, the logic in core/, training/ and data_builder/. Settings come from
flags or env vars (core/settings.py), so a Hugging Face Space runs it unchanged. The loaded
model and SAE (ui/runtime.py) are the only globals; the queue runs one generation at a time.
"""

import argparse
import sys
import threading
import time

import gradio as gr

from core.errors import CensorscopeError
from core.model import load_subject
from core.sae import load_sae
from core.settings import AppSettings
from ui import runtime
from ui.admin_tab import build_admin_tab
from ui.dataset_tab import build_dataset_tab, on_dataset_load
from ui.features_tab import build_features_tab
from ui.inspect_tab import build_inspect_tab

CSS = """
#tokens .token { cursor: pointer; }
.feature-contexts .ctx { font-family: var(--font-mono); font-size: 0.85em; margin: 4px 0;
  white-space: pre-wrap; }
"""


def on_load() -> str:
    return runtime.get().header()


def build_app() -> gr.Blocks:
    """All four tabs; needs ui.runtime set (the app's model and SAE)."""
    with gr.Blocks(title="censorscope", analytics_enabled=False) as demo:
        gr.Markdown("# censorscope\nMap and steer how a language model censors itself.")
        header = gr.Markdown(runtime.get().header(), elem_id="header")
        with gr.Tabs():
            with gr.Tab("Inspect & Steer", id="inspect"):
                shared = build_inspect_tab()
            with gr.Tab("Features", id="features"):
                build_features_tab(shared["recipe"])
            with gr.Tab("Dataset", id="dataset") as dataset_tab:
                dataset = build_dataset_tab()
            with gr.Tab("Admin", id="admin"):
                build_admin_tab(header)
        demo.load(on_load, None, [header], api_visibility="private")
        dataset_tab.select(
            on_dataset_load, None, dataset["outputs"], api_visibility="private"
        )  # opening the tab reads the store
    return demo


def launch(demo: gr.Blocks, settings: AppSettings, **kwargs):
    """Queue-bounded launch: one model call at a time, the rest wait their turn."""
    demo.queue(default_concurrency_limit=settings.max_concurrent_generations, max_size=64)
    return demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        css=CSS,
        theme=gr.themes.Soft(),
        show_error=False,
        max_file_size="2mb",  # uploads are recipe files of a few KB
        **kwargs,
    )


def main() -> None:
    settings = AppSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model",
        default=settings.model,
        help="organism (default) | embedded | tiny | folder | .gguf | hub id",
    )
    parser.add_argument("--sae", default=settings.sae, help="SAE folder or registry:RELEASE:ID")
    parser.add_argument(
        "--adapter", default=settings.adapter, help="PEFT/LoRA folder merged on top"
    )
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args()
    settings = AppSettings(
        model=args.model, sae=args.sae, adapter=args.adapter, host=args.host, port=args.port
    )
    t0 = time.perf_counter()
    try:
        subject = load_subject(settings.model, device=settings.device, adapter=settings.adapter)
        sae = load_sae(settings.sae_spec(), subject)
    except CensorscopeError as err:
        sys.exit(f"error: {err}")
    rt = runtime.set_runtime(subject, sae, settings)
    # Load the judge's embedding model while the server starts, not on the first Generate.
    threading.Thread(target=rt.warm_up, daemon=True).start()
    print(f"loaded {subject.name} + SAE {sae.path} in {time.perf_counter() - t0:.1f} s", flush=True)
    launch(build_app(), settings)


if __name__ == "__main__":
    main()
