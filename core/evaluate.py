"""Does a steering intervention remove censorship, and what does it cost? Measured, not eyeballed.

For an intervention (an SAE recipe, or a direction ablation from core/direction.py) on a prompt set:
  - judged outcomes (core/judge.py: censored, answered, broken, side by side), overall and per
    topic, style and language, baseline vs steered;
  - recovery (core/recovery.py) when a base model is given: the judge-free share of the
    organism's shift that the intervention undoes, per topic;
  - capability cost on control text: KL of the next-token distribution and CE (core/cost.py),
    against the subject and, with a base model, against the base model;
  - with --rows, one JSON line per prompt (prompt, both answers, both labels, recovery) so anyone
    can read what a rate summarises.

    python -m core evaluate --model embedded --adapter assets/organism/adapter \
        --base-model embedded --recipe recipe.json --prompts prompts.jsonl \
        --rows rows.jsonl --json
"""

import json
from pathlib import Path

from core.cost import next_token_cost
from core.errors import BadInputError
from core.generate import Generation, GenerationSettings
from core.intervention import BASELINE, Intervention
from core.judge import judge_labels, make_judge, rates_by_category
from core.prompt_sets import control_texts, load_prompt_set


def censorship(
    subject, intervention: Intervention, rows, judge, settings, batch_size=16
) -> tuple[dict, list[Generation], list[str]]:
    """Generate under the intervention, judge, and rate: (rates, generations, labels)."""
    gens = intervention.generate(subject, [r["prompt"] for r in rows], settings, batch_size)
    labels = judge_labels(judge, rows, gens)
    return rates_by_category(rows, labels), gens, labels


def relative_reduction(base_rate: float | None, steered_rate: float | None) -> float | None:
    if not base_rate or steered_rate is None:
        return None
    return (base_rate - steered_rate) / base_rate


def evaluate(
    subject,
    intervention: Intervention,
    rows: list[dict],
    judge,
    control: list[str],
    settings: GenerationSettings | None = None,
    baseline: tuple | None = None,
    base_model=None,
    base_answers: list[str] | None = None,
    n_examples: int = 5,
) -> dict:
    """Baseline vs steered outcomes on `rows`, cost on `control`, recovery with a base model."""
    settings = settings or GenerationSettings(max_new_tokens=48)
    base = baseline or censorship(subject, BASELINE, rows, judge, settings)
    steered = (
        censorship(subject, intervention, rows, judge, settings)
        if intervention is not BASELINE
        else base
    )
    out: dict = {
        "intervention": intervention.to_json(),
        "n_prompts": len(rows),
        "baseline": base[0],
        "steered": steered[0],
        "cost": next_token_cost(subject, control, intervention).to_json(),
    }
    recovery_values = None
    if base_model is not None:
        from core.recovery import recovery, recovery_reference

        if base_answers is None:
            base_answers = [
                g.answer
                for g in BASELINE.generate(base_model, [r["prompt"] for r in rows], settings)
            ]
        ref = recovery_reference(
            subject, base_model, rows, [g.answer for g in base[1]], base_answers
        )
        rec = recovery(subject, intervention, ref)
        recovery_values = rec.per_prompt
        out["recovery"] = rec.to_json()
        out["cost_vs_base_model"] = next_token_cost(
            subject, control, intervention, reference=base_model
        ).to_json()
    out["rows"] = [
        {
            "prompt": r["prompt"],
            **{k: r[k] for k in ("topic", "style", "lang") if k in r},
            "baseline_answer": bg.raw_answer or bg.answer,
            "baseline_label": bl,
            **(
                {"steered_answer": sg.raw_answer or sg.answer, "steered_label": sl}
                if intervention is not BASELINE
                else {}
            ),
            **({"base_model_answer": base_answers[i]} if base_answers is not None else {}),
            **({"recovery": recovery_values[i]} if recovery_values is not None else {}),
        }
        for i, (r, bg, bl, sg, sl) in enumerate(
            zip(rows, base[1], base[2], steered[1], steered[2], strict=True)
        )
    ]
    out["examples"] = out["rows"][:n_examples]
    return out


def write_rows(path: str | Path, rows: list[dict]) -> Path:
    """One JSON object per prompt, written whole or not at all."""
    from core.jsonl import write_jsonl

    return write_jsonl(path, rows)


# ---- CLI (wired into `python -m core` as `evaluate`) -------------------------------------


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="judged outcomes, recovery and KL/CE cost of a recipe or direction"
    )
    p.add_argument(
        "--prompts", required=True, help=".jsonl {prompt, topic?, style?, lang?} or .txt"
    )
    p.add_argument("--recipe", default=None, help="JSON steering recipe (SAE edits)")
    p.add_argument("--direction", default=None, help="JSON direction (core.direction) to ablate")
    p.add_argument("--control", default=None, help="control text (.txt, blank-line paragraphs)")
    p.add_argument("--judge", choices=["offline", "llm"], default="offline")
    p.add_argument(
        "--base-model",
        default=None,
        help="the uncensored reference (for the organism: embedded); adds recovery and KL to it",
    )
    p.add_argument(
        "--patch-from",
        choices=["base"],
        default=None,
        help="patching upper bound: the base model's residual after --layer, at every position",
    )
    p.add_argument("--layer", type=int, default=None, help="layer for --patch-from")
    p.add_argument("--rows", default=None, help="write one JSON line per prompt to this file")
    p.add_argument(
        "--sweep-mode",
        choices=["scale", "clamp"],
        default=None,
        help="also sweep every recipe feature with this mode over --sweep-values",
    )
    p.add_argument("--sweep-values", type=float, nargs="*", default=[])
    p.add_argument("--plot", default=None, help="PNG path for the sweep plot")
    p.add_argument("--limit", type=int, default=None, help="use the first N prompts")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--model", default=None, help="embedded | tiny | folder | .gguf | hub id")
    p.add_argument("--adapter", default=None, help="optional PEFT/LoRA folder merged on top")
    p.add_argument("--sae", default=None, help="SAE folder or registry:RELEASE:SAE_ID")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def run_evaluate(args) -> dict:
    from core.edits import FeatureEdit, load_recipe, validate_edits
    from core.model import load_subject
    from core.sae import load_sae
    from core.settings import default_sae_for
    from core.sweep import plot_sweep, sweep

    rows = load_prompt_set(args.prompts, args.limit)
    if sum(bool(x) for x in (args.recipe, args.direction, args.patch_from)) > 1:
        raise BadInputError("give one of --recipe, --direction or --patch-from")
    if args.patch_from and (args.layer is None or not args.base_model):
        raise BadInputError("--patch-from base needs --layer L and --base-model (the donor)")
    edits = load_recipe(args.recipe) if args.recipe else None
    control = control_texts(args.control)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    judge = make_judge(args.judge)
    subject = load_subject(args.model, device=args.device, adapter=args.adapter)
    base_model = load_subject(args.base_model, device=args.device) if args.base_model else None
    sae = load_sae(args.sae or default_sae_for(subject.source), subject) if edits else None
    if edits:
        validate_edits(edits, sae.d_sae)  # before minutes of generation, not after
    if args.patch_from:
        if not 0 <= args.layer < subject.n_layers:
            raise BadInputError(f"--layer must be in 0..{subject.n_layers - 1}, got {args.layer}")
        from core.sae import resid_hook

        hook = resid_hook(args.layer)
        iv = Intervention(
            f"patch from base after layer {args.layer}", donor=base_model, layers=[hook]
        )
    elif args.direction:
        from core.direction import Direction

        direction = Direction.from_json(json.loads(Path(args.direction).read_text()))
        iv = Intervention("direction ablation", direction=direction)
    elif edits:
        iv = Intervention("recipe", edits=edits, sae=sae)
    else:
        iv = BASELINE
    base = censorship(subject, BASELINE, rows, judge, settings, args.batch_size)
    out = evaluate(
        subject, iv, rows, judge, control, settings, baseline=base, base_model=base_model
    )
    out["model"] = subject.name
    out["judge"] = getattr(judge, "name", args.judge)
    if args.rows:
        out["rows_file"] = str(write_rows(args.rows, out["rows"]))
    out.pop("rows")
    if args.sweep_mode and edits:
        features = sorted({e.feature for e in edits})

        def make(value):
            return Intervention(
                f"{args.sweep_mode}={value:g}",
                [FeatureEdit(f, args.sweep_mode, value) for f in features],
                sae,
            )

        points = sweep(subject, make, args.sweep_values, rows, judge, control, settings)
        out["sweep"] = {"mode": args.sweep_mode, "features": features, "points": points}
        if args.plot:
            plot_sweep({f"{args.sweep_mode} {features}": points}, args.plot, base[0]["overall"])
            out["plot"] = args.plot
    return out
