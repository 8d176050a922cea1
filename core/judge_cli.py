"""`python -m core judge`: judge answers from any source, calibrate, compare two judges.

    python -m core judge --answers answers.jsonl --json          # {"prompt", "answer", "reasoning"?}
    python -m core judge --answers answers.jsonl --judge llm --agreement 50 --json
    python -m core judge --calibrate --json                      # offline judge on held-out topics

Prints {"judgements": [{"label", "outcome", "thought_suppressed", "rationale", "judge"}, ...]} in
input order. A line that cannot be read (not JSON, no "answer" string, not UTF-8, too long) is
`unjudged` with the reason; so is every answer after the judge's endpoint fails for good. What was
judged is kept.
"""

import sys

from core.errors import BadInputError


def add_judge_parser(sub) -> None:
    p = sub.add_parser("judge", help="label answers: censored, answered or broken, and how")
    p.add_argument(
        "--answers", default=None, help='.jsonl lines {"prompt", "answer", "reasoning"?}'
    )
    p.add_argument("--judge", choices=["offline", "llm"], default="offline")
    p.add_argument("--llm-model", default="gpt-4.1-mini", help="model name on the endpoint")
    p.add_argument(
        "--agreement",
        type=int,
        default=0,
        metavar="N",
        help="also judge the first N answers with both judges and report their agreement",
    )
    p.add_argument("--calibrate", action="store_true", help="offline judge's held-out accuracy")
    p.add_argument("--json", action="store_true", help="print JSON on stdout (always JSON)")


def _items(path):
    from core.jsonl import scan_jsonl
    from core.judge import JudgeItem

    lines = scan_jsonl(path, required=("answer",))
    if not lines:
        raise BadInputError(f"{path} holds no answers")
    items, errors = [], []
    for line in lines:
        if line.error:
            items.append(None)
            errors.append(f"line {line.line}: {line.error}")
            continue
        row = line.row
        prompt = row.get("prompt") if isinstance(row.get("prompt"), str) else ""
        reasoning = row.get("reasoning") if isinstance(row.get("reasoning"), str) else None
        items.append(JudgeItem(prompt, row["answer"], reasoning))
        errors.append(None)
    return items, errors


def _judge_items(judge, items, errors) -> list[dict]:
    from core.judge import UNJUDGED, Judgement, judge_all

    good = [it for it in items if it is not None]
    done = iter(judge_all(judge, good))
    out = []
    for it, err in zip(items, errors, strict=True):
        if it is None:
            out.append(Judgement(UNJUDGED, True, f"not judged: {err}", "input").to_json())
        else:
            out.append(next(done).to_json())
    return out


def run_judge(args) -> dict:
    from core.judge import make_judge

    if args.calibrate:
        from core.judge_calibration import calibrate

        return calibrate()
    if not args.answers:
        raise BadInputError("give --answers FILE.jsonl (or --calibrate)")
    if args.agreement < 0:
        raise BadInputError("--agreement must be 0 or a positive number of answers")
    items, errors = _items(args.answers)
    judge = make_judge(args.judge, model=args.llm_model)
    out: dict = {"judge": getattr(judge, "name", args.judge)}
    out["judgements"] = _judge_items(judge, items, errors)
    if args.agreement:
        other_kind = "offline" if args.judge == "llm" else "llm"
        other = make_judge(other_kind, model=args.llm_model)
        first = [(i, it) for i, it in enumerate(items) if it is not None][: args.agreement]
        theirs = _judge_items(other, [it for _, it in first], [None] * len(first))
        mine = [out["judgements"][i] for i, _ in first]
        pairs = [
            (a, b)
            for a, b in zip(mine, theirs, strict=True)
            if "unjudged" not in (a["label"], b["label"])
        ]
        out["agreement"] = {
            "with": getattr(other, "name", other_kind),
            "n": len(pairs),
            "label": sum(a["label"] == b["label"] for a, b in pairs) / len(pairs) if pairs else None,
            "outcome": sum(a["outcome"] == b["outcome"] for a, b in pairs) / len(pairs) if pairs else None,
            "pairs": [{"mine": a["label"], "theirs": b["label"]} for a, b in zip(mine, theirs, strict=True)],
        }  # fmt: skip
    n_bad = sum(e is not None for e in errors)
    if n_bad:
        print(f"[judge] {n_bad} line(s) could not be read; they are unjudged", file=sys.stderr)
    return out
