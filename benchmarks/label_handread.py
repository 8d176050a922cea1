"""Hand-read check of the offline labels: do they say what a reader would, and does a reader
applying them detect the feature as well as their rule does?

    python -m benchmarks.label_handread prepare --sae assets/organism/sae --n 40 --out DIR
    # a reader writes DIR/explanations.jsonl from DIR/explain.md (never seeing the labels)
    python -m benchmarks.label_handread fill --dir DIR   # DIR/detect_hand.md
    # other readers mark DIR/detect_hand.md and DIR/detect_offline.md (never seeing the key)
    python -m benchmarks.label_handread score --dir DIR --json benchmarks/results/label_handread_organism.json

`prepare` draws n features scored on held-out windows the usual way (both halves, 2 x N_TEST
windows) and writes, per feature, up to 12 activating windows of the explain half with the
firing token marked (explain.md), and the exact held-out windows the offline score was computed
on, shuffled and unmarked, with a short description to apply: the reader's own (detect_hand.md,
filled in from explanations.jsonl) or the offline label's text (detect_offline.md). The key
(which windows are active) goes to DIR/key.json. Each window is checked against the card: the
label's rule applied to the drawn windows must give the card's detection score.

A reader marks each window 1 (the description says the feature is active in it) or 0, one line
per feature in DIR/answers_hand.jsonl and DIR/answers_offline.jsonl:
{"feature": 12, "marks": "0110..."}. `score` gives each description's balanced accuracy,
beside its rule's on the same windows.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from core.labels import (
    LEFT_D,
    MIN_TEST,
    N_EXPLAIN,
    N_TEST,
    RIGHT_D,
    Rule,
    accuracy,
    sample_windows,
)

N_SHOWN = 12  # activating windows a reader explains from, as an LLM explainer is shown
HOW = (
    "one reader per 20 features wrote the explanations from explain.md alone (10 to 12 marked "
    "activating windows of the explain half, as core/autointerp.py shows an LLM); two other "
    "readers per description kind marked the 40 held-out windows of each feature (the offline "
    "score's own, shuffled, unmarked) from the description alone, with the key kept apart until "
    "scoring; balanced accuracy per feature, 0.5 = chance"
)


def _text(store, tokens, s: int, e: int, mark: int | None = None) -> str:
    parts = store.text(tokens[s:e])
    if mark is not None:
        parts[mark - s] = "«" + parts[mark - s] + "»"
    return "".join(parts).replace("\n", "↵").replace("\r", "␍")  # one window, one line


def prepare(sae_dir: str, n: int, out: str, seed: int = 0) -> dict:
    from core.dashboard import load_store, read_card
    from core.model import load_subject
    from core.sae import load_sae
    from training.llm_labels import evidence_from_store

    card = read_card(sae_dir)
    details = card.get("label_details") or {}
    usual = [int(f) for f, lab in details.items()
             if lab.get("n_test", 0) == 2 * N_TEST and "scored_on" not in lab
             and min(lab["firings"].values()) >= 2]  # fmt: skip
    if len(usual) < n:
        raise SystemExit(f"{sae_dir}: only {len(usual)} features scored the usual way")
    picked = sorted(np.random.default_rng(seed).choice(usual, size=n, replace=False).tolist())
    subject = load_subject(card["subject"]["source"], device="cpu")
    sae = load_sae(sae_dir, subject)
    store = load_store(sae_dir)
    ev = evidence_from_store(subject, sae, sae_dir)
    explain_md, hand_md, offline_md, key = [], [], [], {}
    for f in picked:
        lab = details[str(f)]
        rng = np.random.default_rng([0, f])  # label_feature's draws: its fit windows, then test
        sample_windows(ev, f, ev.explain, N_EXPLAIN, rng)
        test = sample_windows(ev, f, ev.heldout, N_TEST, rng)
        rule = Rule(tuple(lab["rule"]["tokens"]), tuple(lab["rule"]["where"].items()))
        rule_acc = round(accuracy(ev, rule, test), 3)
        if rule_acc != lab["detection"]:
            raise SystemExit(f"feature {f}: windows drawn again score {rule_acc}, card says "
                             f"{lab['detection']}; the firings differ from the card's")  # fmt: skip
        shown = sample_windows(ev, f, ev.explain, N_SHOWN, np.random.default_rng([1, f]))
        explain_md.append(f"## feature {f}\n")
        for c, s, e in zip(shown.centre[shown.active], shown.start[shown.active],
                           shown.end[shown.active], strict=True):  # fmt: skip
            explain_md.append(f"- {_text(store, ev.tokens, int(s), int(e), int(c))}")
        order = np.random.default_rng([2, f]).permutation(len(test.centre))
        lines = [f"{i + 1:2d}. {_text(store, ev.tokens, int(test.start[j]), int(test.end[j]))}"
                 for i, j in enumerate(order)]  # fmt: skip
        hand_md.append(f"## feature {f}\ndescription: {{hand:{f}}}\n" + "\n".join(lines))
        offline_md.append(f"## feature {f}\ndescription: {lab['text']}\n" + "\n".join(lines))
        key[str(f)] = {"active": "".join("1" if test.active[j] else "0" for j in order),
                       "rule_detection": rule_acc, "label": lab["text"]}  # fmt: skip
        explain_md.append("")
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "explain.md").write_text("\n".join(explain_md) + "\n")
    (d / "detect_hand.template.md").write_text("\n\n".join(hand_md) + "\n")
    (d / "detect_offline.md").write_text("\n\n".join(offline_md) + "\n")
    (d / "key.json").write_text(json.dumps(key, indent=1, ensure_ascii=False))
    meta = {"sae": sae_dir, "n": n, "seed": seed, "features": picked,
            "windows": f"{LEFT_D} tokens before the centre, {RIGHT_D} after, within its record"}  # fmt: skip
    (d / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def fill_hand(out: str) -> Path:
    """detect_hand.md: the template with each feature's description from explanations.jsonl."""
    d = Path(out)
    text = (d / "detect_hand.template.md").read_text()
    for line in (d / "explanations.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            text = text.replace(f"{{hand:{row['feature']}}}", row["explanation"].strip())
    (d / "detect_hand.md").write_text(text)
    return d / "detect_hand.md"


def _balanced(marks: str, active: str) -> float:
    m, a = np.array([c == "1" for c in marks]), np.array([c == "1" for c in active])
    if len(m) != len(a):
        raise SystemExit(f"{len(m)} marks for {len(a)} windows")
    return float(((m & a).sum() / a.sum() + (~m & ~a).sum() / (~a).sum()) / 2)


def score(out: str) -> dict:
    d = Path(out)
    key = json.loads((d / "key.json").read_text())
    per = {f: {"rule": k["rule_detection"], "label": k["label"]} for f, k in key.items()}
    for name in ("hand", "offline"):
        path = d / f"answers_{name}.jsonl"
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                f = str(row["feature"])
                per[f][name] = round(_balanced(row["marks"].strip(), key[f]["active"]), 3)
    rows = [json.loads(x) for x in (d / "explanations.jsonl").read_text().splitlines() if x.strip()]
    expl = {str(r["feature"]): r["explanation"] for r in rows}
    for f in per:
        per[f]["explanation"] = expl.get(f)
    done = [f for f in per if "hand" in per[f] and "offline" in per[f]]

    def mean(k):
        return round(float(np.mean([per[f][k] for f in done])), 3) if done else None

    rng = np.random.default_rng(0)
    pairs = {"hand-written minus offline label, both read by hand": ("hand", "offline"),
             "offline rule minus hand-written explanation": ("rule", "hand"),
             "offline rule minus offline label read by hand": ("rule", "offline")}  # fmt: skip
    diffs = {}
    for name, (a, b) in pairs.items():
        delta = np.array([per[f][a] - per[f][b] for f in done])
        if len(delta):
            boot = rng.choice(delta, (10_000, len(delta))).mean(1)
            diffs[name] = {"mean": round(float(delta.mean()), 3),
                           "bootstrap_95": np.percentile(boot, [2.5, 97.5]).round(3).tolist()}  # fmt: skip
    meta = json.loads((d / "meta.json").read_text()) if (d / "meta.json").exists() else {}
    return {
        "how": HOW,
        "prepared_with": f"python -m benchmarks.label_handread prepare --sae {meta.get('sae')} "
        f"--n {meta.get('n')} --seed {meta.get('seed')} --out DIR",
        "features": len(done),
        "paired_differences": diffs,
        "windows_per_feature": 2 * N_TEST,
        "mean_detection": {
            "offline rule": mean("rule"),
            "offline label read by hand": mean("offline"),
            "hand-written explanation read by hand": mean("hand"),
        },  # fmt: skip
        "min_test_note": f"features scored on {2 * N_TEST} held-out windows (at least {2 * MIN_TEST})",
        "per_feature": per,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.label_handread")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--sae", required=True)
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("fill")
    p.add_argument("--dir", required=True)
    p = sub.add_parser("score")
    p.add_argument("--dir", required=True)
    p.add_argument("--json")
    args = ap.parse_args(argv)
    if args.cmd == "prepare":
        print(json.dumps(prepare(args.sae, args.n, args.out, args.seed), indent=1))
    elif args.cmd == "fill":
        print(fill_hand(args.dir))
    else:
        res = score(args.dir)
        res["machine"] = {"cpu": platform.machine(), "python": platform.python_version()}
        res["command"] = " ".join(["python -m benchmarks.label_handread"] + sys.argv[1:])
        text = json.dumps(res, indent=1, ensure_ascii=False)
        if args.json:
            Path(args.json).write_text(text + "\n")
        print(text)


if __name__ == "__main__":
    main()
