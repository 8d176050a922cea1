"""Hand-read sample vs the offline judge, per condition of the organism study.

Each benchmarks/results/handread/<condition>.blind.jsonl holds 40 answers drawn with a fixed seed;
<condition>.hand.jsonl holds labels a person wrote from the blind file alone (before seeing any
verdict). This joins them with the judge's labels in benchmarks/results/organism_rows/ (the first
organism), organism_v2_rows/ (the second, conditions named v2_*) or organism_v3_rows/ (the third,
the shipped one, v3_*; first_organism_control_widened and base_model_control_widened are the first organism and
the base model on its control set) and writes
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
ROWS = {  # hand-read condition -> its judged rows under results/ (first organism unless v2_)
    "base_model": "organism_rows/base_model_no_lora",
    "organism": "organism_rows/organism",
    "old_sae_auto_recipe": "organism_rows/sae_auto_recipe",
    "direction_all_layers_old": "organism_rows/direction_ablation_all_layers",
    "direction_sae_layer_old": "organism_rows/direction_ablation_sae_layer_only",
    "search_sae_recipe_attributed_search": "organism_rows/search_sae_recipe_attributed_search",
    "search_direction_ablation_every_layer": "organism_rows/search_direction_ablation_every_layer",
    "search_activation_addition_of_direction": (
        "organism_rows/search_activation_addition_of_direction"
    ),
    "search_sae_recipe_attributed_search_control": (
        "organism_rows/search_sae_recipe_attributed_search_control"
    ),
    "organism_control": "organism_rows/organism_control",
    "base_model_control": "organism_rows/base_model_no_lora_control",
    "old_sae_auto_recipe_control": "organism_rows/sae_auto_recipe_control",
    "direction_all_layers_old_control": "organism_rows/direction_ablation_all_layers_control",
    "direction_sae_layer_old_control": "organism_rows/direction_ablation_sae_layer_only_control",
    "v2_organism": "organism_v2_rows/search_organism",
    "v2_organism_control": "organism_v2_rows/search_organism_control",
    "v2_sae_recipe": "organism_v2_rows/search_sae_recipe_attributed_search",
    "v2_sae_recipe_control": "organism_v2_rows/search_sae_recipe_attributed_search_control",
    "v2_direction_every_layer": "organism_v2_rows/search_direction_ablation_every_layer",
    "v2_actadd": "organism_v2_rows/search_activation_addition_of_direction",
    "v2_direction_every_layer_control": (
        "organism_v2_rows/search_direction_ablation_every_layer_control"
    ),
    "v2_actadd_control": "organism_v2_rows/search_activation_addition_of_direction_control",
    "first_organism_control_all_groups": "organism_v2_rows/first_organism_control_all_groups",
    "v3_organism": "organism_v3_rows/search_organism",
    "v3_organism_control": "organism_v3_rows/search_organism_control",
    "v3_sae_recipe": "organism_v3_rows/search_sae_recipe_attributed_search",
    "v3_sae_recipe_control": "organism_v3_rows/search_sae_recipe_attributed_search_control",
    "v3_direction_every_layer": "organism_v3_rows/search_direction_ablation_every_layer",
    "v3_direction_every_layer_control": (
        "organism_v3_rows/search_direction_ablation_every_layer_control"
    ),
    "v3_actadd": "organism_v3_rows/search_activation_addition_of_direction",
    "v3_actadd_control": "organism_v3_rows/search_activation_addition_of_direction_control",
    "first_organism_control_widened": "organism_v3_rows/first_organism_control_widened",
    "base_model_control_widened": "organism_v3_rows/base_model_control_widened",
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
        judged = [json.loads(x) for x in (RESULTS / f"{rows_name}.jsonl").read_text().splitlines()]
        by_id = {i: r for i, r in enumerate(judged)}
        pairs = [(h["label"], by_id[h["id"]]["label"]) for h in hand]
        n = len(pairs)
        out[name] = {
            "organism": name[:2] if name[:3] in ("v2_", "v3_") else "first",
            "rows": f"benchmarks/results/{rows_name}.jsonl",
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
