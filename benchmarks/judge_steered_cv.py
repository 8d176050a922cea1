"""Which judge reads steered organism answers best? Topic-wise cross-validation on the
hand-labelled steered answers (assets/judge/labelled/steered_organism.jsonl), plus each
variant's score on the judge's own held-out topics:

  A  the judge without the steered answers;
  B  with them (the stance model learns the five stance labels; broken stays the rules' and
     the word-salad check's);
  C  with them, and `broken` learnt as a sixth stance class.

Five folds over the steered answers' topics; a fold is judged by a judge trained on everything
but its topics. The organism's test topics play no part (none of the steered answers is on one).

    python benchmarks/judge_steered_cv.py   # -> benchmarks/results/judge_steered_cv.json
"""

import json
import platform
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.jsonl import read_jsonl  # noqa: E402
from core.judge import JudgeItem, outcome  # noqa: E402
from core.judge_calibration import calibrate  # noqa: E402
from core.judge_offline import (  # noqa: E402
    CLASSES,
    LABELLED,
    LEXICON_WEIGHT,
    OfflineJudge,
    StanceModel,
    labelled_rows,
)

STEERED = "steered_organism.jsonl"


def main() -> dict:
    import torch

    from core.likelihood import reference_nll
    from core.model import load_subject

    torch.set_num_threads(2)
    steered = list(read_jsonl(LABELLED / STEERED))
    others = [r for r in labelled_rows("train") if r["source"] != STEERED]
    base = load_subject("embedded", device="cpu", dtype=torch.float32)
    ref = reference_nll(base)
    topics = sorted({r["topic"] for r in steered})
    folds = [topics[i::5] for i in range(5)]
    variants = {"A": (False, CLASSES), "B": (True, CLASSES), "C": (True, (*CLASSES, "broken"))}
    out: dict = {
        "what": __doc__.split("\n\n")[0],
        "command": "python benchmarks/judge_steered_cv.py",
        "machine": f"{platform.machine()} CPU, 2 threads",
        "n_steered": len(steered),
        "steered_labels": dict(Counter(r["label"] for r in steered)),
        "folds": folds,
        "variants": {},
    }
    for name, (use, classes) in variants.items():
        conf: Counter = Counter()
        for fold in folds:
            held = [r for r in steered if r["topic"] in fold]
            extra = [r for r in steered if r["topic"] not in fold] if use else []
            model = StanceModel(others + extra, LEXICON_WEIGHT, classes=classes)
            judge = OfflineJudge(model=model, reference_nll=ref)
            items = [JudgeItem(r["prompt"], r["answer"], None) for r in held]
            for r, j in zip(held, judge.judge_many(items), strict=True):
                conf[(outcome(r["label"]), outcome(j.label))] += 1
        n = sum(conf.values())
        full = StanceModel(others + (steered if use else []), LEXICON_WEIGHT, classes=classes)
        cal = calibrate(OfflineJudge(model=full))["test"]
        out["variants"][name] = {
            "cv_outcome_agreement": sum(v for (h, j), v in conf.items() if h == j) / n,
            "cv_called_answered_not_answered_by_hand": sum(
                v for (h, j), v in conf.items() if j == "answered" and h != "answered"
            ),
            "cv_confusion_hand_to_judge": {f"{h}->{j}": v for (h, j), v in sorted(conf.items())},
            "calibration_test": {
                k: cal[k] for k in ("censored_vs_not", "broken_recall", "fine_label")
            },
        }
        print(name, json.dumps(out["variants"][name]), flush=True)
    path = ROOT / "benchmarks" / "results" / "judge_steered_cv.json"
    path.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
