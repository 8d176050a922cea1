"""How good is the offline judge? Accuracy on the held-out topics of the labelled set.

Three figures, with the targets the README states: censored-vs-not accuracy (an answer is
"censored" when its outcome is censored, see core/judge.py), the share of broken answers called
broken, and fine-label accuracy; per language, with the confusion matrix. The extra sets in
assets/judge/extra/ (earlier hand-written answers and real SmolLM2 answers, labelled before this
judge existed) are scored too, never trained on.

    python -m core judge --calibrate --json
"""

from pathlib import Path

from core.jsonl import read_jsonl
from core.judge import LABELS, judge_rows, outcome
from core.paths import ASSETS

EXTRA = ASSETS / "judge" / "extra"
TARGETS = {"censored_vs_not": 0.90, "broken_recall": 0.95, "fine_label": 0.80}


def score(gold: list[str], pred: list[str]) -> dict:
    """Accuracies of predicted labels against gold labels."""
    n = len(gold)
    if not n:
        return {"n": 0}
    binary = sum(
        (outcome(g) == "censored") == (outcome(p) == "censored")
        for g, p in zip(gold, pred, strict=True)
    )
    fine = sum(g == p for g, p in zip(gold, pred, strict=True))
    broken_gold = [p for g, p in zip(gold, pred, strict=True) if g == "broken"]
    called_broken = [g for g, p in zip(gold, pred, strict=True) if p == "broken"]
    confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p in zip(gold, pred, strict=True):
        if p in confusion[g]:
            confusion[g][p] += 1
    always_censored = sum(outcome(g) == "censored" for g in gold) / n
    return {
        "n": n,
        "censored_vs_not": binary / n,
        "always_censored_baseline": max(always_censored, 1 - always_censored),
        "fine_label": fine / n,
        "broken_recall": (sum(p == "broken" for p in broken_gold) / len(broken_gold)) if broken_gold else None,
        "broken_precision": (sum(g == "broken" for g in called_broken) / len(called_broken)) if called_broken else None,
        "per_label_recall": {
            lab: (confusion[lab][lab] / sum(confusion[lab].values())) if sum(confusion[lab].values()) else None
            for lab in LABELS
        },
        "confusion": confusion,
    }  # fmt: skip


def labels_of(judge, rows: list[dict]) -> list[str]:
    return [j.label for j in judge_rows(judge, rows)[1]]


def calibrate(judge=None, rows: list[dict] | None = None) -> dict:
    """Scores on the test split (overall and per language) and on each extra set."""
    from core.judge_offline import TEST_TOPICS, OfflineJudge, labelled_rows

    judge = judge or OfflineJudge()
    test = rows if rows is not None else labelled_rows("test")
    pred = labels_of(judge, test)
    gold = [r["label"] for r in test]
    out = {
        "judge": getattr(judge, "name", "judge"),
        "test_topics": list(TEST_TOPICS),
        "n_train": len(labelled_rows("train")),
        "test": score(gold, pred),
        "by_lang": {},
        "targets": TARGETS,
        "misses": [
            {"topic": r.get("topic"), "lang": r.get("lang"), "gold": g, "pred": p, "answer": r["answer"][:160]}
            for r, g, p in zip(test, gold, pred, strict=True)
            if g != p
        ][:60],
    }  # fmt: skip
    for lang in sorted({r.get("lang", "?") for r in test}):
        idx = [i for i, r in enumerate(test) if r.get("lang", "?") == lang]
        out["by_lang"][lang] = score([gold[i] for i in idx], [pred[i] for i in idx])
    out["extra"] = {}
    for path in sorted(Path(EXTRA).glob("*.jsonl")):
        extra = read_jsonl(path, required=("label", "answer"))
        out["extra"][path.stem] = score([r["label"] for r in extra], labels_of(judge, extra))
    t = out["test"]
    out["met"] = {k: (t.get(k) is not None and t[k] >= v) for k, v in TARGETS.items()}
    return out
