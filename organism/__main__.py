"""The censored model organism: build its data, train its LoRA, measure it, run the steering study.

python -m organism answers    # base model's greedy answers to control prompts (cached)
python -m organism train      # LoRA -> assets/organism/adapter (+ training.json)
python -m organism measure    # censorship rates + drift -> assets/organism/card.json
python -m organism study      # discovery, auto-recipe, direction baseline: saves their answers
python -m organism report     # judge every condition, recovery, KL to base -> benchmarks/results
python -m organism search     # patching bound, attributed recipe search, direction baselines
python -m organism recipe     # what assets/organism/recipe.json does on the test topics
python -m organism layers --layers 15 20 25   # SAELens SAE + bound + search at each layer
python -m organism rejudge    # every saved answer judged again -> benchmarks/results/rejudged.json
"""

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from organism.train import OrganismConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m organism", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("answers", help="base model's answers to the training control prompts")
    train = sub.add_parser("train", help="train the LoRA adapter")
    for f in fields(OrganismConfig):
        flag = f"--{f.name.replace('_', '-')}"
        if isinstance(f.default, bool):
            train.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif f.name != "targets":
            train.add_argument(flag, type=type(f.default), default=None)
    train.add_argument(
        "--out", default=None, help="adapter folder (assets/organism/adapter, the shipped one)"
    )
    measure = sub.add_parser("measure", help="answer held-out prompts, judge, write the card")
    measure.add_argument("--device", default="cpu")
    measure.add_argument(
        "--judge-only",
        action="store_true",
        help="judge answers saved by a GPU run (organism.device)",
    )
    study = sub.add_parser("study", help="discovery + auto-recipe + direction baseline (answers)")
    study.add_argument("--device", default="cpu")
    report = sub.add_parser("report", help="judged outcomes, recovery, KL to base, per condition")
    report.add_argument("--device", default="cpu")
    report.add_argument(
        "--rejudge", action="store_true", help="reuse the saved recovery and cost; judge again"
    )
    search = sub.add_parser("search", help="patching bound, recipe search, direction baselines")
    search.add_argument("--device", default="cpu")
    search.add_argument("--sae", default=None, help="SAE folder (default: the organism's)")
    search.add_argument("--max-features", type=int, default=12, help="most edits in a recipe")
    search.add_argument(
        "--min-gain", type=float, default=0.003, help="smallest validation gain a step must bring"
    )
    rec = sub.add_parser("recipe", help="what a recipe does on the test topics, and its curve")
    rec.add_argument("--recipe", default=None, help="recipe JSON (assets/organism/recipe.json)")
    rec.add_argument("--device", default="cpu")
    sub.add_parser("rejudge", help="judge every saved organism answer again (after a judge change)")
    layers = sub.add_parser("layers", help="train the organism's SAE at each layer; search there")
    layers.add_argument("--layers", type=int, nargs="+", required=True)
    layers.add_argument("--device", default="cpu")
    layers.add_argument("--tokens", type=int, default=None, help="SAE training tokens per layer")
    layers.add_argument("--answers", type=int, default=None, help="organism answers in the corpus")
    layers.add_argument("--max-features", type=int, default=16, help="most edits in a recipe")
    layers.add_argument(
        "--min-gain", type=float, default=0.01, help="smallest validation gain a step must bring"
    )
    layers.add_argument("--limit", type=int, default=None, help="cap every prompt set (smoke runs)")
    layers.add_argument(
        "--out", default=None, help="folder for runs and SAEs (data/organism_layers)"
    )
    layers.add_argument(
        "--ship", action="store_true", help="copy the chosen SAE, with a dashboard, to assets/"
    )
    args = parser.parse_args(argv)

    if args.command == "answers":
        import torch

        from core.model import load_subject
        from organism.train import base_answers, control_answers_path, control_subset

        torch.set_num_threads(2)
        cfg = OrganismConfig()
        subject = load_subject(cfg.base, device="cpu")
        rows = base_answers(
            subject,
            control_subset("train", cfg),
            control_answers_path("train", cfg),
            cfg.answer_tokens,
        )
        out = {"control_answers": len(rows)}
    elif args.command == "train":
        from organism.train import train as run_train

        skip = ("command", "out")
        overrides = {k: v for k, v in vars(args).items() if k not in skip and v is not None}
        kw = {"out_dir": Path(args.out)} if args.out else {}
        out = run_train(OrganismConfig(**overrides), **kw)
        out.pop("loss_curve", None)
    elif args.command == "measure":
        from organism.measure import measure_generate, measure_judge

        if not args.judge_only:
            measure_generate(args.device)
        out = measure_judge()
    elif args.command == "study":
        from organism.report import report as run_report
        from organism.study import study_generate

        study_generate(args.device)
        out = run_report(args.device)
    elif args.command == "search":
        from core.recipe_search import SearchConfig
        from organism.search import search as run_search

        cfg = SearchConfig(
            max_features=args.max_features, candidates=12, min_gain=args.min_gain, max_kl=0.05
        )
        full = run_search(args.device, args.sae, config=cfg)
        out = {k: full[k] for k in ("search", "patching_bound") if k in full}
    elif args.command == "recipe":
        from organism.recipe_eval import CONDITION, measure_recipe

        kw = {"recipe_path": args.recipe} if args.recipe else {}
        full = measure_recipe(args.device, **kw)
        out = {k: full[k] for k in ("recipe", CONDITION, "tradeoff_curve_test")}
    elif args.command == "layers":
        from core.recipe_search import SearchConfig
        from organism.layers import study_layers

        kw = {"out_dir": args.out} if args.out else {}
        full = study_layers(
            args.layers,
            args.device,
            tokens=args.tokens,
            answers=args.answers,
            config=SearchConfig(
                max_features=args.max_features,
                candidates=12,
                min_gain=args.min_gain,
                max_kl=0.05,
            ),
            limit=args.limit,
            ship=args.ship,
            **kw,
        )
        out = {"chosen_layer": full["chosen_layer"], "layers": full["layers"]}
    elif args.command == "rejudge":
        import torch

        from core.judge import make_judge
        from core.likelihood import reference_nll
        from core.model import load_subject
        from organism.rejudge import rejudge_rows

        torch.set_num_threads(2)
        base = load_subject("embedded", device="cpu", dtype=torch.float32)
        result = rejudge_rows(make_judge("offline", reference_nll=reference_nll(base)))
        out = {k: v["after"] for k, v in result["files"].items()}
    else:
        from organism.report import report as run_report

        out = run_report(args.device, rejudge=args.rejudge)
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
