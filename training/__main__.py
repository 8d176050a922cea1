"""censorscope training CLI: train an SAE, build its dashboard, re-plot metrics, manage jobs.

    python -m training train --preset tiny                      # seconds, for tests
    python -m training train --preset embedded                  # ~1 h on a 2-core CPU
    python -m training train --preset organism --layer 20       # the organism, -> assets/organism/sae
    python -m training train --preset qwen3-8b --tokens 1000000 # any field can be overridden
    python -m training dashboard --sae assets/sae/embedded
    python -m training dashboard --sae assets/organism/sae --subject organism
    python -m training dashboard --sae assets/sae/embedded --relabel
    python -m training labels --sae assets/organism/sae --features 0-49  # LLM labels
    python -m training plots --run data/runs/embedded
    python -m training jobs start train -- --preset tiny
    python -m training jobs list | status ID | tail ID | cancel ID

Rerunning an interrupted `train` command resumes it from its last checkpoint. `--json` prints
a JSON result on stdout; progress goes to stderr.
"""

import os

# On a shared CPU, OpenMP threads that spin while waiting lose badly to other processes
# (measured here: 2 spinning threads ran the subject at half the speed of 1); passive waiting
# keeps both cores' benefit. Must be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import types
import typing
from pathlib import Path

from core.errors import CensorscopeError
from training.config import PRESETS, TrainConfig, field_help, preset


def _field_type(f: dataclasses.Field):
    """(argparse type, is_bool) for a TrainConfig field annotation."""
    hint = typing.get_type_hints(TrainConfig)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if isinstance(hint, types.UnionType) and args else hint
    if typing.get_origin(hint) is typing.Literal:
        base = str
    if base is bool:
        return None, True
    if base is dict:
        return json.loads, False
    nullable = type(None) in typing.get_args(hint)

    def parse(text: str):
        if nullable and text.lower() == "none":
            return None
        return base(float(text)) if base is int and "e" in text.lower() else base(text)

    return parse, False


def add_config_args(parser: argparse.ArgumentParser) -> None:
    helps = field_help()
    group = parser.add_argument_group("overrides (default: the preset's value)")
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kind, is_bool = _field_type(f)
        if is_bool:
            group.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=helps.get(f.name)
            )
        else:
            group.add_argument(
                flag, type=kind, default=None, help=helps.get(f.name), metavar=f.name.upper()
            )


def config_from_args(args) -> TrainConfig:
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
    return preset(args.preset, **overrides)


def cmd_train(args) -> dict:
    from training.trainer import train

    cfg = config_from_args(args)
    if args.check:
        checked = _check_against_subject(cfg)
        return {"config": cfg.to_dict(), "valid": True, "checked_against_subject": checked}
    folder = train(cfg, fresh=args.fresh, progress=_progress)
    card = json.loads((folder / "card.json").read_text())
    return {"sae": str(folder), "metrics": card["metrics"], "tokens_seen": card["tokens_seen"]}


def _check_against_subject(cfg: TrainConfig) -> bool:
    """Validate layer and k against the subject's config when it is on disk (no weights loaded)."""
    from transformers import AutoConfig

    from core.model import resolve_source

    try:
        target, _ = resolve_source(cfg.subject)
    except CensorscopeError:
        return False
    if not Path(target).exists():
        return False  # a hub id: checked when the model loads
    config = AutoConfig.from_pretrained(target)
    cfg.check_subject(int(config.num_hidden_layers), int(config.hidden_size))
    return True


def _progress(done: int, total: int) -> None:
    print(
        f"progress {done}/{total} tokens ({100 * done / total:.1f}%)", file=sys.stderr, flush=True
    )


def cmd_dashboard(args) -> dict:
    from core.feature_search import save_search_embeddings
    from core.model import load_subject
    from core.sae import load_sae
    from training.dashboard import DASHBOARD_DIR, HTML_FILE, relabel_dashboard

    if getattr(args, "extra_pool", None) and (args.relabel or not args.top_up):
        raise CensorscopeError(
            "--extra-pool feeds the top-up: it needs --top-up N > 0, no --relabel"
        )
    card = (
        json.loads((Path(args.sae) / "card.json").read_text())
        if (Path(args.sae) / "card.json").exists()
        else {}
    )
    source = args.subject or card.get("subject", {}).get("source")
    if not source:
        raise CensorscopeError(f"{args.sae} does not name its subject; pass --subject")
    subject = load_subject(source, device=args.device)
    sae = load_sae(args.sae, subject)
    if args.relabel:
        relabel_dashboard(sae, subject, args.sae)
    else:
        _build_dashboard(args, card, source, subject, sae)
    save_search_embeddings(args.sae)
    out = Path(args.sae) / DASHBOARD_DIR
    summary = json.loads((Path(args.sae) / "card.json").read_text()).get("labels_summary", {})
    return {"dashboard": str(out), "html": str(out / HTML_FILE), "labels": summary}


def _build_dashboard(args, card: dict, source: str, subject, sae) -> Path:
    from training.annotated import dashboard_records
    from training.dashboard import build_dashboard

    kwargs = {} if args.source not in ("recorded", "builder") else {"n_prose": args.prose}
    if args.source == "recorded":
        kwargs.update(n_sensitive=args.sensitive, n_control=args.control, n_labelled=args.labelled)
    records = dashboard_records(args.source, **kwargs)
    pool = None
    if args.top_up and args.source == "recorded":  # the same sources, all of them
        pool = dashboard_records(
            "recorded", n_sensitive=10**6, n_control=10**6, n_labelled=10**6, n_prose=10**6
        )
        # What the SAE itself was trained on reaches features nothing else does.
        from training.annotated import corpus_records, trained_records, window_records

        trained_on = card.get("train_config") or {}
        pool += corpus_records(trained_on, subject) if trained_on else []
        pool += trained_records() if source == "organism" else []
        # Last: a window is added only for what the records before it could not reach.
        pool += window_records(trained_on, subject) if trained_on else []
    if getattr(args, "extra_pool", None):  # last of all: what the subject sampled for the rarest
        from training.sampled_pool import read_pool

        pool = (pool or []) + [r for path in args.extra_pool for r in read_pool(path)]
    context = args.context_size or 192
    return build_dashboard(
        sae, subject, records, args.sae, n_tokens=args.tokens, context_size=context,
        pool=pool, need=args.top_up,
    )  # fmt: skip


def cmd_sample_pool(args) -> dict:
    from training.sampled_pool import SampleConfig, config_path, sample_pool

    out = args.out or str(Path(args.sae) / "sampled_pool.jsonl")
    cfg = SampleConfig(
        sae=args.sae, out=out, subject=args.subject, tokens=args.tokens, length=args.length,
        batch=args.batch, temperature=args.temperature, need=args.need, seed=args.seed,
        device=args.device, write_dtype=args.write_dtype, check_rows=args.check_rows,
    )  # fmt: skip
    return {"pool": out, "config": str(config_path(out)), **sample_pool(cfg)}


def cmd_labels(args) -> dict:
    from core.llm_client import LlmClient, LlmEndpoint
    from core.model import load_subject
    from core.sae import load_sae
    from training.llm_labels import run

    card = json.loads((Path(args.sae) / "card.json").read_text())
    subject = load_subject(args.subject or card["subject"]["source"], device=args.device)
    sae = load_sae(args.sae, subject)
    lo, _, hi = args.features.partition("-")
    features = list(range(int(lo), int(hi or lo) + 1))
    client = LlmClient(LlmEndpoint(model=args.model, base_url=args.base_url))
    return {"llm_labels": run(subject, sae, args.sae, client, features)}


def cmd_plots(args) -> dict:
    from training.metrics import METRICS_FILE, render_plots

    run = Path(args.run)
    files = render_plots(run / METRICS_FILE, run / "plots")
    return {"plots": [str(f) for f in files]}


def cmd_jobs(args) -> dict | list:
    from training import jobs

    if args.action == "start":
        extra = [a for a in args.rest if a != "--"]
        return {"job": jobs.start(args.kind_or_id, extra)}
    if args.action == "list":
        return [dataclasses.asdict(j) for j in jobs.list_jobs()]
    if args.kind_or_id is None:
        raise CensorscopeError(f"jobs {args.action} needs a job id")
    if args.action == "status":
        return dataclasses.asdict(jobs.status(args.kind_or_id))
    if args.action == "cancel":
        return {"message": jobs.cancel(args.kind_or_id)}
    n = args.n
    if len(args.rest) == 2 and args.rest[0] == "-n":  # `tail ID -n 5`: REMAINDER took the flag
        n = int(args.rest[1])
    return {"tail": jobs.tail(args.kind_or_id, n)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train (or resume) an SAE")
    p.add_argument(
        "--preset", choices=PRESETS, default="embedded", help="starting point for the config"
    )
    p.add_argument("--fresh", action="store_true", help="discard checkpoints in the run folder")
    p.add_argument("--check", action="store_true", help="build and validate the config, then stop")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_config_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("dashboard", help="build the feature dashboard of an SAE folder")
    p.add_argument("--sae", required=True, help="SAE artifact folder")
    p.add_argument("--subject", help="model source (default: the one in card.json)")
    p.add_argument(
        "--source",
        default="recorded",
        help="recorded (the steering study's judged organism + base answers, and prose) | "
        "builder (the dataset builder's judged answers) | a text file or folder",
    )
    p.add_argument("--sensitive", type=int, default=160, help="recorded: sensitive prompts")
    p.add_argument("--control", type=int, default=60, help="recorded: everyday prompts")
    p.add_argument("--labelled", type=int, default=150, help="recorded: hand-labelled answers")
    p.add_argument("--prose", type=int, default=80, help="plain-prose chunks added")
    p.add_argument("--tokens", type=int, default=100_000, help="at most this many tokens")
    p.add_argument(
        "--top-up", type=int, default=8, metavar="N",
        help="recorded: add records from all of the sources' texts in which a feature firing in "
        "fewer than N records fires, so rare features get labels (0: off)",
    )  # fmt: skip
    p.add_argument(
        "--extra-pool", action="append", default=[], metavar="FILE",
        help="texts of python -m training sample-pool, scanned last by the top-up (repeatable)",
    )  # fmt: skip
    p.add_argument("--context-size", type=int, default=None, help="max tokens per record")
    p.add_argument(
        "--relabel", action="store_true",
        help="make the offline labels again over the records the dashboard already holds "
        "(no new scan; the other record options are ignored)",
    )  # fmt: skip
    p.add_argument("--device", default=None, help="cpu or cuda")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser(
        "sample-pool",
        help="let the subject write texts, keep those the SAE's rarest latents fire in",
    )
    p.add_argument("--sae", required=True, help="SAE folder with labels in its card")
    p.add_argument("--out", default=None, help="JSON lines (default: <sae>/sampled_pool.jsonl)")
    p.add_argument("--subject", help="model source (default: the one in card.json)")
    p.add_argument("--tokens", type=int, default=8_000_000, help="tokens to sample in all")
    p.add_argument("--batch", type=int, default=512, help="texts sampled at once")
    p.add_argument("--length", type=int, default=192, help="tokens per text")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--need", type=int, default=8, help="as the dashboard's --top-up")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu or cuda")
    p.add_argument(
        "--write-dtype", default=None,
        help="dtype the subject writes in (bfloat16: half the memory, room for a larger "
        "--batch, which is what speeds writing); every text is still checked in float32",
    )  # fmt: skip
    p.add_argument("--check-rows", type=int, default=512, help="texts checked at once")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sample_pool)

    p = sub.add_parser("labels", help="LLM labels (explain + detection score) into card.json")
    p.add_argument("--sae", required=True, help="SAE folder with a dashboard")
    p.add_argument("--model", default="gpt-4.1-mini", help="explainer and scorer model")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint URL")
    p.add_argument("--features", default="0-49", help="feature ids, e.g. 0-49 or 123")
    p.add_argument("--subject", help="model source (default: the one in card.json)")
    p.add_argument("--device", default=None, help="cpu or cuda")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_labels)

    p = sub.add_parser("plots", help="render PNG plots from a run folder's metrics.jsonl")
    p.add_argument("--run", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plots)

    p = sub.add_parser(
        "jobs", help="background jobs: start KIND -- ARGS | list | status ID | tail ID | cancel ID"
    )
    p.add_argument("action", choices=["start", "list", "status", "tail", "cancel"])
    p.add_argument("kind_or_id", nargs="?", help="job kind (start: train|build) or job id")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the job's command")
    p.add_argument("-n", type=int, default=20, help="lines for tail")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except CensorscopeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 130 if type(err).__name__ == "TrainingInterrupted" else 2
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2, default=str))
    else:
        print(json.dumps(result, indent=2, default=str) if not isinstance(result, str) else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
