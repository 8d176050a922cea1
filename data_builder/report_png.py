"""PNG copies of the report's plotly figures, drawn with matplotlib (no kaleido/Chrome needed).

Reads each figure's traces (bar, scatter, box) so the PNG shows exactly the data of the HTML.

    python -m data_builder report   # writes data/report/<figure>.png
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _draw_bars(ax, fig) -> None:
    traces = [t for t in fig.data if t.type == "bar"]
    horizontal = any(t.orientation == "h" for t in traces)
    cats: list = []
    for t in traces:
        for c in t.y if horizontal else t.x:
            if c not in cats:
                cats.append(c)
    base = np.zeros(len(cats))
    for t in traces:
        keys = list(t.y if horizontal else t.x)
        vals = list(t.x if horizontal else t.y)
        row = np.array([vals[keys.index(c)] if c in keys else 0 for c in cats], dtype=float)
        if horizontal:
            ax.barh(cats, row, left=base, color=t.marker.color, label=t.name)
        else:
            ax.bar(cats, row, bottom=base, color=t.marker.color, label=t.name)
        base += row
    if not horizontal:
        ax.tick_params(axis="x", rotation=30)


def _draw_scatter(ax, fig) -> None:
    for t in fig.data:
        ax.scatter(t.x, t.y, s=10, alpha=0.75, color=t.marker.color, label=t.name)
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_boxes(ax, fig) -> None:
    traces = [t for t in fig.data if t.type == "box" and t.y is not None and len(t.y)]
    ax.boxplot([list(t.y) for t in traces], tick_labels=[t.name for t in traces])
    for i, t in enumerate(traces, 1):
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(t.y))
        ax.scatter(i + jitter, t.y, s=6, alpha=0.5, color=t.marker.color)
    ax.tick_params(axis="x", rotation=30)
    ax.set_ylabel("characters")


def write_pngs(figs: dict, out: Path) -> list[Path]:
    """One PNG per figure in `out`; returns their paths."""
    paths = []
    for name, fig in figs.items():
        kinds = {t.type for t in fig.data}
        height = 4.5 if "bar" not in kinds or name != "topics" else max(4.5, 0.22 * len(_cats(fig)))
        mpl, ax = plt.subplots(figsize=(9, height), dpi=110)
        try:
            if kinds == {"bar"}:
                _draw_bars(ax, fig)
            elif kinds == {"box"}:
                _draw_boxes(ax, fig)
            else:
                _draw_scatter(ax, fig)
            ax.set_title(fig.layout.title.text or name)
            if name != "answer_length":
                ax.legend(fontsize=8, frameon=False, loc="best")
            mpl.tight_layout()
            path = out / f"{name}.png"
            mpl.savefig(path)
            paths.append(path)
        finally:
            plt.close(mpl)
    return paths


def _cats(fig) -> set:
    return {c for t in fig.data for c in (t.y if t.orientation == "h" else t.x)}
