"""Read an SAE's feature dashboard: what makes each latent fire, and what it writes out.

`python -m training dashboard` writes `<sae>/dashboard/` (training/dashboard.py); this module
only reads it, with no model: the app's Features tab, the feature search and `python -m core
features` all go through `load_feature_dashboard` and `load_store`.

The store keeps the scanned conversations as one flat token array with their metadata (topic,
judged label, language, who wrote the answer), each token's region (chat template, prompt,
answer, plain text), and per latent: density, histogram, the median and 99th percentile of its
non-zero activations, example windows (the top ones and a few at lower activation levels) and
the output tokens its decoder direction promotes and suppresses.

    from core.dashboard import load_feature_dashboard
    dash = load_feature_dashboard("assets/organism/sae", 123)
"""

import codecs
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.errors import BadInputError, SaeLoadError

DASHBOARD_DIR = "dashboard"
STORE_FILE = "features.safetensors"
TOKENS_FILE = "tokens.json"
RECORDS_FILE = "records.json"
HTML_FILE = "index.html"
N_BINS = 20
REGIONS = {0: "skipped", 1: "template", 2: "prompt", 3: "answer", 4: "text", 5: "window"}
"""Token regions; 0 marks tokens not counted (special tokens, prefixes seen before)."""
LEVEL_NAMES = ("top", "high (quantile 50-75%)", "middle (25-50%)", "low (0-25%)")


@dataclass(frozen=True)
class TopContext:
    tokens: list[str]
    activations: list[float]
    """The latent's activation at each token of the window."""
    index: int
    """Position of the example's token within `tokens`."""
    value: float
    meta: dict = field(default_factory=dict)
    """Where the window comes from: region, topic, judged label, language, model."""


@dataclass(frozen=True)
class FeatureDashboard:
    feature: int
    density: float
    """Fraction of scanned tokens where the latent fires (> 0)."""
    max_activation: float
    median: float
    """Median of the latent's non-zero activations (0 when it never fired)."""
    p99: float
    """99th percentile of its non-zero activations: the top of its usual range."""
    histogram_edges: list[float]
    histogram_counts: list[int]
    """Counts of non-zero activations per bin (edges from 0 to max_activation)."""
    top_contexts: list[TopContext]
    levels: list[tuple[str, list[TopContext]]]
    """Examples at lower activation levels: (level name, windows)."""
    promoted: list[tuple[str, float]]
    """Output tokens the decoder direction raises most (logit effect)."""
    suppressed: list[tuple[str, float]]
    n_tokens: int
    """Tokens in the sample the statistics come from."""
    label: str | None = None
    label_info: dict = field(default_factory=dict)
    """The card's label details: source, detection score, statistic, LLM label when present."""


@dataclass(frozen=True)
class Store:
    """The dashboard store of one SAE, as numpy arrays (read-only)."""

    t: dict
    meta: dict
    tokens: dict[int, str]
    records: list[dict]
    partial: dict[int, bytes] = field(default_factory=dict)
    """Bytes of tokens that hold part of a UTF-8 character (Chinese in byte-level BPE)."""

    @property
    def d_sae(self) -> int:
        return int(self.t["density"].shape[0])

    @property
    def record_of(self) -> np.ndarray:  # [N] record index of each token
        starts = self.t["record_start"]
        return np.searchsorted(starts, np.arange(int(starts[-1])), side="right") - 1

    def text(self, ids) -> list[str]:
        """Token strings of a run of ids; a character split over tokens shows on its last one."""
        ids = [int(i) for i in ids]
        if not any(i in self.partial for i in ids):
            return [self.tokens.get(i, f"<{i}>") for i in ids]
        dec = codecs.getincrementaldecoder("utf-8")("replace")
        return [
            dec.decode(self.partial[i] if i in self.partial else self.tokens.get(i, "").encode())
            for i in ids
        ]

    def window(self, flat: int, left: int, right: int) -> tuple[int, int]:
        """[start, end) of the window around token `flat`, kept inside its record."""
        starts = self.t["record_start"]
        r = int(np.searchsorted(starts, flat, side="right") - 1)
        return max(int(starts[r]), flat - left), min(int(starts[r + 1]), flat + right + 1)

    def window_meta(self, flat: int) -> dict:
        starts = self.t["record_start"]
        r = int(np.searchsorted(starts, flat, side="right") - 1)
        rec = self.records[r] if r < len(self.records) else {}
        return {**rec, "region": REGIONS.get(int(self.t["region"][flat]), "?")}


@lru_cache(maxsize=4)
def _read(folder: str, _mtime: float) -> Store:
    from safetensors import safe_open

    path = Path(folder)
    tensors, meta = {}, {}
    with safe_open(str(path / STORE_FILE), "np") as f:
        meta = f.metadata() or {}
        for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
            tensors[key] = f.get_tensor(key)
    if meta.get("version") != "2":
        raise SaeLoadError(
            f"{path} holds a dashboard in an older format; rebuild it with "
            f"`python -m training dashboard --sae {path.parent}`"
        )
    raw = json.loads((path / TOKENS_FILE).read_text())
    tokens = {int(k): v for k, v in raw["text"].items()}
    partial = {int(k): bytes.fromhex(v) for k, v in raw.get("bytes", {}).items()}
    records = json.loads((path / RECORDS_FILE).read_text())
    return Store(tensors, meta, tokens, records, partial)


def load_store(sae_dir: str | Path) -> Store:
    folder = Path(sae_dir) / DASHBOARD_DIR
    if not (folder / STORE_FILE).exists():
        raise SaeLoadError(
            f"{sae_dir} has no feature dashboard; build it with "
            f"`python -m training dashboard --sae {sae_dir}`"
        )
    return _read(str(folder), (folder / STORE_FILE).stat().st_mtime)


def has_dashboard(sae_dir: str | Path | None) -> bool:
    return sae_dir is not None and (Path(sae_dir) / DASHBOARD_DIR / STORE_FILE).exists()


def feature_range(store: Store, feature: int) -> tuple[float, float]:
    """(median, 99th percentile) of the latent's non-zero activations in the sample."""
    return float(store.t["median"][feature]), float(store.t["p99"][feature])


def example(store: Store, f: int, slot: int) -> TopContext | None:
    t = store.t
    flat = int(t["ex_token"][f, slot])
    if flat < 0:
        return None
    left, right = int(store.meta["left"]), int(store.meta["right"])
    start, end = store.window(flat, left, right)
    scale = float(t["max_activation"][f]) / 255.0
    acts = t["ex_window"][f, slot, : end - start].astype(np.float32) * scale
    return TopContext(
        tokens=store.text(t["tokens"][start:end]),
        activations=[round(float(a), 4) for a in acts],
        index=flat - start,
        value=float(t["ex_value"][f, slot]),
        meta=store.window_meta(flat),
    )


def load_feature_dashboard(sae_dir: str | Path, feature_id: int) -> FeatureDashboard:
    """One latent's dashboard, read from the compact store (no model needed)."""
    store = load_store(sae_dir)
    t = store.t
    if isinstance(feature_id, bool) or not isinstance(feature_id, int | np.integer):
        raise BadInputError(f"feature id must be an integer, got {feature_id!r}")
    if not 0 <= feature_id < store.d_sae:
        raise BadInputError(
            f"feature id must be an integer in 0..{store.d_sae - 1}, got {feature_id!r}"
        )
    f = int(feature_id)
    top, levels = [], {}
    for slot in range(t["ex_token"].shape[1]):
        ex = example(store, f, slot)
        if ex is None:
            continue
        level = int(t["ex_level"][f, slot])
        (top if level == 0 else levels.setdefault(level, [])).append(ex)
    max_act = float(t["max_activation"][f])
    card = read_card(sae_dir)
    details = card.get("label_details", {}).get(str(f), {})
    llm = card.get("llm_labels", {}).get(str(f))
    return FeatureDashboard(
        feature=f,
        density=float(t["density"][f]),
        max_activation=max_act,
        median=float(t["median"][f]),
        p99=float(t["p99"][f]),
        histogram_edges=[max_act * i / N_BINS for i in range(N_BINS + 1)],
        histogram_counts=[int(c) for c in t["hist_counts"][f]],
        top_contexts=top,
        levels=[(LEVEL_NAMES[k], levels[k]) for k in sorted(levels)],
        promoted=[
            (store.tokens.get(int(i), str(int(i))), float(v))
            for i, v in zip(t["pos_ids"][f], t["pos_vals"][f], strict=True)
        ],
        suppressed=[
            (store.tokens.get(int(i), str(int(i))), float(v))
            for i, v in zip(t["neg_ids"][f], t["neg_vals"][f], strict=True)
        ],
        n_tokens=int(store.meta.get("n_tokens", 0)),
        label=card.get("labels", {}).get(str(f)),
        label_info={**details, **({"llm": llm} if llm else {})},
    )


def read_card(sae_dir: str | Path) -> dict:
    path = Path(sae_dir) / "card.json"
    if not path.exists():
        return {}
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return card if isinstance(card, dict) else {}
