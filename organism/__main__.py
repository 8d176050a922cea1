"""The censored model organism: build its data, train its LoRA, measure it, run the steering study.

python -m organism answers    # base model's greedy answers to control prompts (cached)
python -m organism train      # LoRA -> assets/organism/adapter (+ training.json)
python -m organism measure    # censorship rates + drift -> assets/organism/card.json
python -m organism study      # discovery, auto-recipe, direction baseline: saves their answers
python -m organism report     # judge every condition, recovery, KL to base -> benchmarks/results
python -m organism search     # patching bound, attributed recipe search, direction baselines
"""

import argparse
import json
import sys
from dataclasses import fields

from organism.train import OrganismConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m organism", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("answers", help="base model's answers to the training control prompts")
    train = sub.add_parser("train", help="train the LoRA adapter")
    for f in fields(OrganismConfig):
        if f.name != "targets":
            train.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=None)
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

        overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
        out = run_train(OrganismConfig(**overrides))
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
        from organism.search import search as run_search

        full = run_search(args.device, args.sae)
        out = {k: full[k] for k in ("search", "patching_bound") if k in full}
    else:
        from organism.report import report as run_report

        out = run_report(args.device, rejudge=args.rejudge)
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
