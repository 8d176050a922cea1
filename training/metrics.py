"""Training metrics: one JSON row per logged step in `metrics.jsonl`, and PNG plots of them.

Rows carry `step`, `tokens`, and whichever of these were measured at that step:
explained_variance, mse, l0, dead_features, dead_fraction, lr, tokens_per_s, loss (train rows)
and ce_loss_score, ce_loss_with_sae, ce_loss_without_sae (eval rows, `"kind": "eval"`, and the
`"final"` row, both on held-out text). Train rows are measured on the training batch, in the
SAE's input scale (normalised when `normalize_activations` is set), so their MSE is not in the
same units as the eval rows'.

    python -m training plots --run RUN_DIR
"""

import json
from pathlib import Path

from core.atomic import write_text_atomic

METRICS_FILE = "metrics.jsonl"

# (metric, title, y-axis label) for each PNG, as the study plotted them.
PLOTS = [
    ("explained_variance", "Explained variance", "explained variance"),
    ("dead_features", "Dead features", "dead latents"),
    ("ce_loss_score", "CE loss score (held-out)", "CE loss score"),
    ("lr", "Learning rate", "lr"),
    ("l0", "L0 (active latents per token)", "L0"),
    ("mse", "MSE", "MSE"),
]


class MetricsLog:
    """Append-only metrics.jsonl; each row is flushed at once so a killed run keeps its rows."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, row: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()

    def rows(self) -> list[dict]:
        return read_metrics(self.path)

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step` (a resumed run redoes those steps; no duplicates)."""
        kept = [r for r in self.rows() if r.get("step", 0) <= step]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def read_metrics(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write
    return rows


def render_plots(metrics_path: str | Path, out_dir: str | Path, title: str = "") -> list[Path]:
    """One PNG per metric in PLOTS that has values; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    styles = {  # kind -> (legend, plot kwargs)
        "train": ("training batch", {"linewidth": 1.2}),
        "eval": ("held-out eval", {"marker": "o", "linestyle": "--", "markersize": 4}),
        "final": ("final", {"marker": "*", "linestyle": "none", "markersize": 12}),
    }
    for key, label, ylabel in PLOTS:
        series = {
            kind: [
                (r["step"], r[key])
                for r in rows
                if r.get("kind", "train") == kind and r.get(key) is not None
            ]
            for kind in styles
        }
        if not any(series.values()):
            continue
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
        for kind, points in series.items():
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, label=styles[kind][0], **styles[kind][1])
        if sum(bool(p) for p in series.values()) > 1:
            ax.legend(fontsize=8)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{label}{f' — {title}' if title else ''}", fontsize=10)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"{key}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
