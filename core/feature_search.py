"""Find features by meaning: type "refusal", "Tiananmen" or "stability", get the features.

Each feature is described by one document: its label (offline and LLM), the statistic behind it
and the text of its top activating windows. A query is embedded with the local MiniLM
(core/store.py) and ranked by cosine similarity to those documents, plus a bonus where the query's
words occur in the label or the windows verbatim (a name such as "Tiananmen" should win over
things that merely sound alike). Document embeddings are computed once per dashboard and cached
under the cache folder.

    python -m core features --search "party line" --sae assets/organism/sae --json
"""

import hashlib
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.dashboard import DASHBOARD_DIR, example, load_store, read_card
from core.errors import BadInputError
from core.paths import cache_dir

LABEL_BONUS = 0.35  # a query word in the label
CONTEXT_BONUS = 0.2  # ... in every top window (scaled by the share of windows)
SOURCE_BONUS = 0.3  # ... in the topic or judged reply of every example (scaled likewise)
SEARCH_FILE = "search.npz"
"""The documents' embeddings shipped beside a dashboard: a first search on a 2-core CPU would
otherwise embed 4,608 documents (minutes) before it answers."""


def source_of(meta: dict) -> str:
    """Where an example window comes from, in words: "on tiananmen, refusal reply", "prose"."""
    topic = str(meta.get("topic", "")).replace("_", " ").lower()
    reply = str(meta.get("label", "")).replace("_", " ").replace("not censored", "uncensored")
    if topic:
        return f"on {topic}, {reply} reply".lower() if reply else f"on {topic}"
    if meta.get("region") == "window":
        return "training window"
    if meta.get("region") in ("template", "prompt", "answer"):
        kind = meta.get("kind")
        return f"{kind} conversation" if kind else "conversation"
    return "prose"


@dataclass(frozen=True)
class Hit:
    feature: int
    score: float
    label: str
    detection: float | None
    """Detection accuracy of the shown label on texts it was not made from (None: not scored;
    the card's label details say why)."""
    density: float
    examples: str = ""
    """Where its example windows come from, commonest first (topic, judged reply)."""

    def to_json(self) -> dict:
        return asdict(self)


class FeatureIndex:
    """Search documents and their embeddings for one SAE folder's dashboard."""

    def __init__(self, sae_dir: str | Path):
        self.sae_dir = Path(sae_dir)
        store = load_store(sae_dir)
        card = read_card(sae_dir)
        self.labels = {int(k): v for k, v in card.get("labels", {}).items()}
        details = card.get("label_details", {})
        llm = card.get("llm_labels", {})
        self.detection = {}
        for f in self.labels:
            shown = [d for d in (details.get(str(f)), llm.get(str(f))) if d]
            best = next((d for d in shown if d.get("text") == self.labels[f]), None)
            self.detection[f] = best.get("detection") if best else None
        self.density = store.t["density"]
        self.docs, self.contexts, self.sources = [], [], []
        for f in range(store.d_sae):
            top = [example(store, f, slot) for slot in range(4)]  # slots 0..7 hold the top ones
            windows = ["".join(c.tokens) for c in top if c is not None]
            self.contexts.append([w.lower() for w in windows])
            # Where its examples come from: "on tiananmen, refusal reply", one per example.
            sources = []
            for slot in range(store.t["ex_token"].shape[1]):
                flat = int(store.t["ex_token"][f, slot])
                if flat >= 0:
                    sources.append(source_of(store.window_meta(flat)))
            self.sources.append(sources)
            common = sorted(set(sources), key=lambda s: (-sources.count(s), s))[:3]  # ties: by name
            parts = [self.labels.get(f, ""), llm.get(str(f), {}).get("text", "")]
            parts += ["examples " + "; ".join(common)] + windows[:2]
            self.docs.append(" | ".join(p for p in parts if p))
        self._emb = None

    def digest(self) -> str:
        return hashlib.sha256("\x1e".join(self.docs).encode("utf-8")).hexdigest()[:16]

    def embeddings(self) -> np.ndarray:  # [d_sae, 384]
        if self._emb is None:
            digest = self.digest()
            shipped = self.sae_dir / DASHBOARD_DIR / SEARCH_FILE
            if shipped.exists():
                with np.load(shipped) as z:
                    if str(z["digest"]) == digest:  # else stale: the labels changed since
                        self._emb = z["emb"]
            path = cache_dir() / "feature-search" / f"{digest}.npy"
            if self._emb is None and path.exists():
                self._emb = np.load(path)
            if self._emb is None:
                from core.store import get_embedder

                self._emb = get_embedder()(self.docs).astype(np.float16)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npy")
                np.save(tmp, self._emb)
                tmp.rename(path)
        return self._emb

    def search(self, query: str, k: int = 20) -> list[Hit]:
        """The k features whose label and contexts best match `query`, best first."""
        query = (query or "").strip()
        if not query:
            raise BadInputError("type what to search for, e.g. refusal, Tiananmen or stability")
        if len(query) > 500:
            raise BadInputError("the search text is over 500 characters; a few words are enough")
        from core.store import get_embedder

        q = get_embedder()([query])[0]
        score = self.embeddings().astype(np.float32) @ q  # [d_sae]
        words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 1]
        if words:
            for f in range(len(self.docs)):
                label = self.labels.get(f, "").lower()
                if all(re.search(rf"\b{re.escape(w)}", label) for w in words):
                    score[f] += LABEL_BONUS
                ctx = self.contexts[f]
                if ctx:
                    share = sum(all(w in c for w in words) for c in ctx) / len(ctx)
                    score[f] += CONTEXT_BONUS * share
                src = self.sources[f]
                if src:
                    share = sum(all(w in c for w in words) for c in src) / len(src)
                    score[f] += SOURCE_BONUS * share
        score[self.density <= 0] = -np.inf  # never fired: nothing to read
        order = np.argsort(-score, kind="stable")[: max(1, int(k))]
        return [
            Hit(
                int(f),
                round(float(score[f]), 4),
                self.labels.get(int(f), ""),
                self.detection.get(int(f)),
                float(self.density[f]),
                self._examples(int(f)),
            )
            for f in order
            if np.isfinite(score[f])
        ]

    def _examples(self, f: int) -> str:
        src = self.sources[f]
        common = sorted(set(src), key=lambda s: (-src.count(s), s))[:2]
        return "; ".join(f"{c} ({src.count(c)}/{len(src)})" for c in common)


@lru_cache(maxsize=4)
def _index(sae_dir: str, _mtime: float) -> FeatureIndex:
    return FeatureIndex(sae_dir)


def feature_index(sae_dir: str | Path) -> FeatureIndex:
    """The (cached) search index of an SAE folder; rebuilt when its card or dashboard changes."""
    card = Path(sae_dir) / "card.json"
    load_store(sae_dir)  # a clear error when there is no dashboard
    stamp = card.stat().st_mtime if card.exists() else 0.0
    return _index(str(sae_dir), stamp)


def save_search_embeddings(sae_dir: str | Path) -> Path:
    """Embed the search documents of an SAE's dashboard and store them in its folder, keyed by
    the documents' digest (a later change to the labels or the records makes them stale, and
    a search then embeds anew)."""
    index = FeatureIndex(sae_dir)
    path = Path(sae_dir) / DASHBOARD_DIR / SEARCH_FILE
    tmp = path.with_name("search.tmp.npz")
    np.savez_compressed(tmp, emb=index.embeddings(), digest=np.array(index.digest()))
    tmp.replace(path)
    return path


def search_features(sae_dir: str | Path, query: str, k: int = 20) -> list[Hit]:
    return feature_index(sae_dir).search(query, k)
