"""The shipped organism's steering results as one figure: outcomes by hand beside the judge's,
and recovery against KL (the recipe's trade-off curve, the direction baselines, the patching
bound at the recipe's layer).

Reads benchmarks/results/organism_v3.json and handread_agreement.json, writes
benchmarks/results/organism_v3.png.

    python benchmarks/organism_plot.py
"""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CONDITIONS = (  # (label, test condition in organism_v3.json, hand-read condition)
    ("organism", "organism", "v3_organism"),
    ("SAE recipe", "SAE recipe (attributed search)", "v3_sae_recipe"),
    ("direction ablation", "direction ablation, every layer", "v3_direction_every_layer"),
    ("activation addition", "activation addition of -direction", "v3_actadd"),
)
OUTCOMES = (("answered", "#2ca02c"), ("censored", "#d62728"), ("broken", "#7f7f7f"))


def plot(summary: dict, hand: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = 0.0
    ticks, names = [], []
    for label, test_name, hand_name in CONDITIONS:
        judged = summary["test"][test_name]["sensitive"]
        for dx, shares, kind in (
            (0.0, {o: judged[f"{o}_rate"] for o, _ in OUTCOMES}, "judge"),
            (0.42, hand[hand_name]["hand"], "by hand"),
        ):
            bottom = 0.0
            for outcome, colour in OUTCOMES:
                left.bar(x + dx, shares[outcome], 0.38, bottom=bottom, color=colour,
                         label=outcome if x == 0 and kind == "judge" else None)  # fmt: skip
                bottom += shares[outcome]
            left.text(x + dx, 1.01, kind, ha="center", fontsize=6)
        ticks.append(x + 0.21)
        names.append(label)
        x += 1.2
    left.set_xticks(ticks)
    left.set_xticklabels(names, fontsize=7)
    left.set_ylim(0, 1.22)
    left.set_ylabel(f"share of test-topic answers ({judged['n']} judged, 40 by hand)")
    left.set_title("outcomes on held-out topics: the judge and a blind hand-read", fontsize=9)
    left.legend(fontsize=7, loc="upper center", ncol=3)

    curve = summary["tradeoff_curve_test"]
    right.plot([c["kl"] for c in curve], [c["recovery_test"]["mean"] for c in curve], "o-",
               color="#1f77b4", label="SAE recipe, first n edits")  # fmt: skip
    for c in curve:
        right.annotate(f"n={c['n']}", (c["kl"], c["recovery_test"]["mean"]), fontsize=6,
                       xytext=(3, -9), textcoords="offset points")  # fmt: skip
    for label, test_name, _ in CONDITIONS[2:]:
        row = summary["test"][test_name]
        right.plot(row["kl_vs_organism"], row["recovery"]["mean"], "s", label=label)
    layer = str(summary["sae"]["layer"])
    bound = summary["patching_bound"][layer]["recovery_mean"]
    right.axhline(bound, ls="--", color="#555", lw=1)
    right.text(0.0, bound + 0.015, f"patching bound after layer {layer}", fontsize=7)
    right.axhline(0.6, ls=":", color="#d62728", lw=1)
    right.text(0.0, 0.615, "target recovery", fontsize=7, color="#d62728")
    right.set_xlabel("KL to the organism on control text (nats/token)")
    right.set_ylabel("recovery on test topics (0 = organism, 1 = base model)")
    right.set_ylim(0, 1.0)
    right.set_title("what an edit buys, and what it costs", fontsize=9)
    right.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> Path:
    summary = json.loads((RESULTS / "organism_v3.json").read_text())
    hand = json.loads((RESULTS / "handread_agreement.json").read_text())
    return plot(summary, hand, RESULTS / "organism_v3.png")


if __name__ == "__main__":
    print(main())
