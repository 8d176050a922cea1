"""Hand-read sample vs the offline judge, per condition of the organism study.

Each benchmarks/results/handread/<condition>.blind.jsonl holds 40 answers drawn with a fixed seed;
<condition>.hand.jsonl holds labels a person wrote from the blind file alone (before seeing any
verdict). This joins them with the judge's labels in benchmarks/results/organism_rows/ and writes
benchmarks/results/handread_agreement.json: the hand-read outcome shares next to the judge's on
the same 40 answers, and their agreement.

    python benchmarks/handread_agreement.py
"""

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.judge import outcome  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = {
    "base_model": "base_model_no_lora",
    "organism": "organism",
    "old_sae_auto_recipe": "sae_auto_recipe",
    "direction_all_layers_old": "direction_ablation_all_layers",
    "direction_sae_layer_old": "direction_ablation_sae_layer_only",
    "search_sae_recipe_attributed_search": "search_sae_recipe_attributed_search",
    "search_direction_ablation_every_layer": "search_direction_ablation_every_layer",
    "search_activation_addition_of_direction": "search_activation_addition_of_direction",
    "search_sae_recipe_attributed_search_control": "search_sae_recipe_attributed_search_control",
    "organism_control": "organism_control",
    "base_model_control": "base_model_no_lora_control",
    "old_sae_auto_recipe_control": "sae_auto_recipe_control",
    "direction_all_layers_old_control": "direction_ablation_all_layers_control",
    "direction_sae_layer_old_control": "direction_ablation_sae_layer_only_control",
}


def shares(labels: list[str]) -> dict:
    groups = Counter(outcome(x) for x in labels)
    n = len(labels)
    return {g: groups.get(g, 0) / n for g in ("censored", "answered", "broken")}


def main() -> dict:
    out = {}
    for name, rows_name in ROWS.items():
        hand_path = RESULTS / "handread" / f"{name}.hand.jsonl"
        if not hand_path.exists():
            continue
        hand = [json.loads(x) for x in hand_path.read_text().splitlines() if x.strip()]
        judged = [
            json.loads(x)
            for x in (RESULTS / "organism_rows" / f"{rows_name}.jsonl").read_text().splitlines()
        ]
        by_id = {i: r for i, r in enumerate(judged)}
        pairs = [(h["label"], by_id[h["id"]]["label"]) for h in hand]
        n = len(pairs)
        out[name] = {
            "n": n,
            "hand": shares([h for h, _ in pairs]),
            "judge": shares([j for _, j in pairs]),
            "hand_labels": dict(Counter(h for h, _ in pairs)),
            "judge_labels": dict(Counter(j for _, j in pairs)),
            "agreement_label": sum(h == j for h, j in pairs) / n,
            "agreement_outcome": sum(outcome(h) == outcome(j) for h, j in pairs) / n,
        }
    path = RESULTS / "handread_agreement.json"
    path.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    for k, v in main().items():
        print(
            f"{k:45s} outcome agreement {v['agreement_outcome']:.2f}  hand {v['hand']}  judge {v['judge']}"
        )
