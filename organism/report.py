"""Re-measure the organism study from its saved answers: judged outcomes, recovery, KL to base.

Reads the answers that `python -m organism measure` (organism and base model) and the study's
generation step (each intervention on the organism) saved, then for every condition on the
held-out test topics:
  - the offline judge's censored / answered / broken shares, overall and per topic, on the
    sensitive prompts and on the control prompts (a word-salad check uses the base model's NLL);
  - recovery (core/recovery.py): the judge-free share of the organism's shift undone, per topic;
  - KL to the base model and CE on neutral control text;
  - one JSON line per prompt under benchmarks/results/organism_rows/<condition>.jsonl, for reading.

    python -m organism report
"""

import json
import re
from pathlib import Path

import torch

from core.cost import next_token_cost
from core.direction import Direction
from core.edits import FeatureEdit
from core.intervention import BASELINE, Intervention
from core.jsonl import write_jsonl
from core.judge import judge_rows, make_judge
from core.likelihood import reference_nll
from core.prompt_sets import control_texts
from core.recovery import recovery, recovery_reference
from organism.train import ADAPTER_DIR, _log

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
ROWS_DIR = RESULTS / "organism_rows"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _interventions(raw: dict, sae) -> dict[str, Intervention]:
    out: dict[str, Intervention] = {}
    d = raw["direction"]
    direction = Direction.from_json(d)
    for name, run in raw["test"].items():
        spec = run["intervention"]
        if "edits" in spec:
            edits = [FeatureEdit(**e) for e in spec["edits"]]
            out[name] = Intervention(name, edits=edits, sae=sae)
        else:
            out[name] = Intervention(name, direction=direction, layers=spec["direction"]["layers"])
    return out


def _measure(device: str, gen: dict, raw: dict, organism, base) -> dict[str, dict]:
    """Recovery and KL/CE of every condition (the part that needs forward passes)."""
    from core.sae import load_sae

    path = Path(raw["sae"]["path"])
    if not (path / "cfg.json").exists():
        from core.errors import BadInputError

        raise BadInputError(
            f"the study's SAE {path} is gone; run `python -m organism study` again to redo the "
            "study with the SAE at hand"
        )
    sae = load_sae(str(path), organism)
    control = control_texts()
    test = gen["organism_sensitive"]
    org_answers = [r["answer"] for r in test]
    base_answers = [r["answer"] for r in gen["base_sensitive"]]
    if [r["prompt"] for r in gen["base_sensitive"]] != [r["prompt"] for r in test]:
        raise ValueError("the saved base and organism answers are not for the same prompts")
    _log("recovery reference: organism and base log-likelihoods")
    ref = recovery_reference(organism, base, test, org_answers, base_answers)
    n = len(test)
    out: dict[str, dict] = {
        "base model (no LoRA)": {
            "recovery_result": {"overall": {"mean": 1.0, "note": "by definition"},
                                "by_topic": None, "per_prompt": [1.0] * n},
            "cost_vs_base": {"kl": 0.0, "ce_increase_pct": 0.0},
        },
        "organism": {
            "recovery_result": {"overall": {"mean": 0.0, "note": "by definition"},
                                "by_topic": None, "per_prompt": [0.0] * n},
            "cost_vs_base": next_token_cost(organism, control, BASELINE, reference=base).to_json(),
        },
    }  # fmt: skip
    for name, iv in _interventions(raw, sae).items():
        _log(f"{name}: recovery and cost")
        out[name] = {
            "intervention": iv.to_json(),
            "recovery_result": recovery(organism, iv, ref).to_json(),
            "cost_vs_base": next_token_cost(organism, control, iv, reference=base).to_json(),
            "cost_vs_organism": next_token_cost(organism, control, iv).to_json(),
        }
    return out


def _saved_measures() -> dict[str, dict]:
    """Recovery and cost from the last full report (organism_study.json and its rows)."""
    saved = json.loads((RESULTS / "organism_study.json").read_text())
    out = {}
    for name, c in saved["conditions"].items():
        rows = [json.loads(x) for x in (ROWS_DIR / f"{slug(name)}.jsonl").read_text().splitlines()]
        out[name] = {
            "recovery_result": {"overall": c["recovery"], "by_topic": c["recovery_by_topic"],
                                "per_prompt": [r["recovery"] for r in rows]},
            "cost_vs_base": c["cost_vs_base"],
        }  # fmt: skip
        for key in ("cost_vs_organism", "intervention"):
            if key in c:
                out[name][key] = c[key]
    return out


def report(device: str = "cpu", rejudge: bool = False) -> dict:
    """Everything from the saved answers; `rejudge` reuses the saved recovery and cost (no
    forward passes but the judge's word-salad check) and judges again."""
    from core.model import load_subject

    gen = json.loads((RESULTS / "steering_organism_generations.json").read_text())
    raw = json.loads((RESULTS / "steering_study_raw.json").read_text())
    torch.set_num_threads(2)
    base = load_subject("embedded", device=device, dtype=torch.float32)
    if rejudge:
        measures = _saved_measures()
    else:
        adapter = str(ADAPTER_DIR)
        organism = load_subject("embedded", device=device, dtype=torch.float32, adapter=adapter)
        measures = _measure(device, gen, raw, organism, base)
    judge = make_judge("offline", reference_nll=reference_nll(base))
    test = gen["organism_sensitive"]
    answers = {
        "base model (no LoRA)": (gen["base_sensitive"], gen["base_control"]),
        "organism": (gen["organism_sensitive"], gen["organism_control"]),
        **{name: (run["sensitive"], run["control"]) for name, run in raw["test"].items()},
    }
    conditions = {
        name: {"sensitive": answers[name][0], "control": answers[name][1], **m}
        for name, m in measures.items()
    }

    out: dict = {
        "what": "organism steering study, re-judged from saved answers on held-out test topics",
        "judge": judge.name + " + base-model NLL word-salad check",
        "settings": gen["settings"],
        "held_out_topics": gen["held_out_topics"],
        "n_sensitive": len(test),
        "n_control": len(gen["organism_control"]),
        "conditions": {},
    }
    ROWS_DIR.mkdir(parents=True, exist_ok=True)
    for name, c in conditions.items():
        _log(f"{name}: judging")
        rates, js = judge_rows(judge, c["sensitive"])
        crates, cjs = judge_rows(judge, c["control"])
        rec = c["recovery_result"]
        per_prompt = rec["per_prompt"]
        entry = {
            "sensitive": rates,
            "control": crates,
            "recovery": rec["overall"],
            "recovery_by_topic": rec["by_topic"],
            "cost_vs_base": c["cost_vs_base"],
        }
        if "cost_vs_organism" in c:
            entry["cost_vs_organism"] = c["cost_vs_organism"]
            entry["intervention"] = c["intervention"]
        out["conditions"][name] = entry
        rows = [
            {
                "i": i,
                "prompt": r["prompt"],
                "topic": r.get("topic"),
                "lang": r.get("lang"),
                "answer": r["answer"],
                "label": j.label,
                "rationale": j.rationale,
                "recovery": per_prompt[i],
            }
            for i, (r, j) in enumerate(zip(c["sensitive"], js, strict=True))
        ]
        write_jsonl(ROWS_DIR / f"{slug(name)}.jsonl", rows)
        crow = [
            {
                "prompt": r["prompt"],
                "topic": r.get("topic"),
                "answer": r["answer"],
                "label": j.label,
            }
            for r, j in zip(c["control"], cjs, strict=True)
        ]
        write_jsonl(ROWS_DIR / f"{slug(name)}_control.jsonl", crow)
    path = RESULTS / "organism_study.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False))
    if rejudge:  # every other saved answer too (search, recipe, second organism)
        from organism.rejudge import rejudge_rows

        rejudge_rows(judge)
    update_card()
    plot(out, RESULTS / "organism_study.png")
    return summary(out)


def summary(out: dict) -> dict:
    table = {}
    for name, c in out["conditions"].items():
        s, k = c["sensitive"]["overall"], c["control"]["overall"]
        table[name] = {
            "censored": s["censored_rate"],
            "answered": s["answered_rate"],
            "broken": s["broken_rate"],
            "control_censored": k["censored_rate"],
            "control_broken": k["broken_rate"],
            "recovery_mean": c["recovery"].get("mean"),
            "recovery_median": c["recovery"].get("median"),
            "kl_vs_base": c["cost_vs_base"]["kl"],
            "ce_increase_pct_vs_base": c["cost_vs_base"]["ce_increase_pct"],
        }
    return table


def plot(out: dict, path: Path) -> Path:
    """Stacked censored / answered / broken bars per condition, recovery printed above."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary(out)
    names = list(rows)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    bottom = [0.0] * len(names)
    for key, colour in (("answered", "#2ca02c"), ("censored", "#d62728"), ("broken", "#7f7f7f")):
        vals = [rows[n][key] or 0.0 for n in names]
        ax.bar(range(len(names)), vals, bottom=bottom, color=colour, label=key)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    for i, n in enumerate(names):
        rec = rows[n]["recovery_median"]
        rec = rows[n]["recovery_mean"] if rec is None else rec
        kl = rows[n]["kl_vs_base"]
        ax.text(i, 1.02, f"recovery {rec:.2f}\nKL {kl:.2f}", ha="center", fontsize=7)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace(" (", "\n(") for n in names], fontsize=7)
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("share of test-topic answers (offline judge)")
    ax.set_title("organism on held-out topics: what each intervention does", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


CARD = Path(__file__).resolve().parent.parent / "assets" / "organism" / "card.json"


def update_card() -> Path:
    """Put the re-measured figures in the organism's card (assets/organism/card.json)."""
    study = json.loads((RESULTS / "organism_study.json").read_text())
    card = json.loads(CARD.read_text())
    rows = summary(study)
    card["metrics"] = {
        "judge": study["judge"],
        "held_out_topics": study["held_out_topics"],
        "n_sensitive": study["n_sensitive"],
        "n_control": study["n_control"],
        "organism": rows["organism"],
        "base_model": rows["base model (no LoRA)"],
        "organism_by_topic": {
            t: r["censored_rate"]
            for t, r in study["conditions"]["organism"]["sensitive"].get("by_topic", {}).items()
        },
        "hand_read": "benchmarks/results/handread_agreement.json (40 answers per condition)",
    }
    card["steering"] = {
        "re-judged study (retired stand-in SAE)": "benchmarks/results/organism_study.json",
        "its SAE per layer (SAELens)":
            "benchmarks/results/organism_layers.json; shipped: assets/organism/sae (layer 15)",
        "patching bound, attributed recipe search, direction baselines":
            "benchmarks/results/organism_search.json, organism_search_fine.json",
        "shipped recipe on the test topics":
            "benchmarks/results/organism_recipe.json (assets/organism/recipe.json)",
    }  # fmt: skip
    labelled = {}
    for name in ("organism", "base model (no LoRA)"):
        for line in (ROWS_DIR / f"{slug(name)}.jsonl").read_text().splitlines():
            r = json.loads(line)
            labelled[(name, r["prompt"])] = r["label"]
    for ex in card.get("examples", []):
        ex["organism_label"] = labelled.get(("organism", ex["prompt"]), ex.get("organism_label"))
        if "base_label" in ex:
            ex["base_label"] = labelled.get(
                ("base model (no LoRA)", ex["prompt"]), ex["base_label"]
            )
    CARD.write_text(json.dumps(card, indent=1, ensure_ascii=False))
    return CARD
