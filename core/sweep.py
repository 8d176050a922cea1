"""A strength sweep: judged outcomes and capability cost at each value of one edit mode.

points = sweep(subject, make, [0.0, -1.0, -3.0], rows, judge, control, settings)
plot_sweep({"scale": points}, "sweep.png", baseline=points_of_baseline)
"""

from collections.abc import Callable
from pathlib import Path

from core.cost import next_token_cost


def sweep(
    subject,
    make: Callable[[float], object],
    values: list[float],
    rows,
    judge,
    control,
    settings,
) -> list[dict]:
    """Outcome rates and cost at each strength value (make(value) -> Intervention)."""
    from core.evaluate import censorship

    points = []
    for value in values:
        iv = make(value)
        stats, _, _ = censorship(subject, iv, rows, judge, settings)
        overall = stats["overall"]
        cost = next_token_cost(subject, control, iv)
        points.append(
            {
                "value": value,
                "censored_rate": overall["censored_rate"],
                "answered_rate": overall["answered_rate"],
                "broken_rate": overall["broken_rate"],
                **cost.to_json(),
            }
        )
    return points


def plot_sweep(
    series: dict[str, list[dict]], path: str | Path, baseline: dict | None = None, title=""
):
    """Answered (solid) and broken (dashed) share against KL, one colour per series, strengths
    annotated; the baseline's answered share as a grey line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (name, points), colour in zip(series.items(), plt.cm.tab10.colors, strict=False):
        xs = [max(p["kl"], 1e-5) for p in points]
        ax.plot(xs, [p["answered_rate"] for p in points], marker="o", color=colour,
                label=f"{name}: answered")  # fmt: skip
        ax.plot(xs, [p["broken_rate"] for p in points], marker="x", ls="--", color=colour,
                label=f"{name}: broken")  # fmt: skip
        for x, p in zip(xs, points, strict=True):
            ax.annotate(f"{p['value']:g}", (x, p["answered_rate"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    if baseline is not None and baseline.get("answered_rate") is not None:
        ax.axhline(baseline["answered_rate"], color="grey", ls=":", lw=1, label="no intervention")
    ax.axvline(0.05, color="red", ls=":", lw=1, label="KL budget 0.05")
    ax.set_xscale("log")
    ax.set_xlabel("KL(reference || steered) on control text, nats/token")
    ax.set_ylabel("share of answers (judge)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or "answered and broken vs capability cost")
    ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
