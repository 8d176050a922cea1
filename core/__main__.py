"""Command line for the core engine: inspect a prompt's features, steer and compare.

    python -m core inspect --prompt "What happened at Tiananmen Square in 1989?" --top-k 5 --json
    python -m core steer --prompt "What happened at Tiananmen Square in 1989?" --ablate 123 \
        --clamp 45=8 --seed 0 --max-new-tokens 64 --json
    python -m core discover --help      # rank features that fire on censored vs other texts
    python -m core evaluate --help      # judged outcomes, recovery and KL/CE cost of a recipe
    python -m core judge --help         # label answers from any source; calibrate the judge
    python -m core attribute --help     # features that make the censored answer likelier
    python -m core features --search "refusal"   # features by meaning (labels + contexts)

--model takes embedded (default), tiny, a folder, a .gguf file or a hub id; --sae a SAELens folder
or registry:RELEASE:SAE_ID (default: the SAE shipped for the embedded model). Errors print one
line on stderr and exit with status 2.
"""

import argparse
import json
import sys
import time

from core.errors import CensorscopeError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", required=True, help="the user prompt (chat-formatted for the model)")
    p.add_argument(
        "--model",
        default=None,
        help="embedded (default) | organism | tiny | folder | .gguf | hub id",
    )
    p.add_argument("--adapter", default=None, help="optional PEFT/LoRA folder merged on top")
    p.add_argument("--sae", default=None, help="SAE folder or registry:RELEASE:SAE_ID")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ins = sub.add_parser("inspect", help="per-token top features of a prompt")
    _add_common(ins)
    ins.add_argument("--top-k", type=int, default=10, help="features listed per token")
    ins.add_argument("--trace", type=int, nargs="*", default=[], help="feature ids to trace")

    steer = sub.add_parser("steer", help="baseline vs steered answer, same seed")
    _add_common(steer)
    steer.add_argument("--ablate", type=int, nargs="*", default=[], metavar="F")
    steer.add_argument("--clamp", nargs="*", default=[], metavar="F=V")
    steer.add_argument("--scale", nargs="*", default=[], metavar="F=V")
    steer.add_argument("--add", nargs="*", default=[], metavar="F=V")
    steer.add_argument("--where", choices=["all", "prompt", "generated"], default="all")
    steer.add_argument("--recipe", default=None, help="JSON steering recipe file (added to flags)")
    steer.add_argument("--seed", type=int, default=0)
    steer.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    steer.add_argument("--top-p", type=float, default=0.95)
    steer.add_argument("--max-new-tokens", type=int, default=128)

    from core.attribution import add_attribute_parser
    from core.discovery import add_discover_parser
    from core.evaluate import add_evaluate_parser
    from core.features_cli import add_features_parser
    from core.judge_cli import add_judge_parser

    add_discover_parser(sub)
    add_evaluate_parser(sub)
    add_judge_parser(sub)
    add_attribute_parser(sub)
    add_features_parser(sub)
    return parser


def _load(args):
    from core.model import check_prompt, load_subject

    check_prompt(args.prompt)  # fail before spending seconds on loading
    from core.sae import load_sae
    from core.settings import default_sae_for

    subject = load_subject(args.model, device=args.device, adapter=args.adapter)
    sae = load_sae(args.sae or default_sae_for(subject.source), subject)
    return subject, sae


def run_inspect(args) -> dict:
    from core.inspect import inspect_prompt

    subject, sae = _load(args)
    result = inspect_prompt(subject, sae, args.prompt, top_k=args.top_k, features=args.trace)
    return {"model": subject.name, "sae": sae.path, **result.to_json()}


def run_steer(args) -> dict:
    from dataclasses import asdict

    from core.compare import compare
    from core.edits import load_recipe, parse_edit_args
    from core.generate import GenerationSettings

    edits = parse_edit_args(args.ablate, args.clamp, args.scale, args.add, args.where)
    if args.recipe:
        edits += load_recipe(args.recipe)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
    )
    t0 = time.perf_counter()
    subject, sae = _load(args)
    load_s = time.perf_counter() - t0
    result = compare(subject, sae, args.prompt, edits, settings)

    def side(g):
        return {
            "text": g.text,
            "reasoning": g.reasoning,
            "answer": g.answer,
            "n_tokens": g.n_tokens,
        }

    return {
        "model": subject.name,
        "sae": sae.path,
        "prompt": args.prompt,
        "edits": [asdict(e) for e in edits],
        "settings": asdict(settings),
        "baseline": side(result.baseline),
        "steered": side(result.steered),
        "identical": result.identical,
        "timings": {"load_s": load_s, **result.timings},
    }


def _print_human(command: str, out: dict) -> None:
    if command == "inspect":
        for tok in out["tokens"]:
            feats = ", ".join(f"#{t['feature']}={t['act']:.2f}" for t in tok["top"][:5])
            print(f"{tok['index']:4d} {tok['token']!r:>16}  {feats}")
    else:
        print("edits:", ", ".join(str(e) for e in out["edits"]) or "none")
        print("\n--- baseline ---\n" + out["baseline"]["text"])
        print("\n--- steered ---\n" + out["steered"]["text"])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.attribution import run_attribute
    from core.discovery import run_discover
    from core.evaluate import run_evaluate
    from core.features_cli import run_features
    from core.judge_cli import run_judge

    runners = {
        "inspect": run_inspect,
        "steer": run_steer,
        "discover": run_discover,
        "evaluate": run_evaluate,
        "judge": run_judge,
        "attribute": run_attribute,
        "features": run_features,
    }
    try:
        out = runners[args.command](args)
    except CensorscopeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json or args.command not in ("inspect", "steer"):
        json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        _print_human(args.command, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
