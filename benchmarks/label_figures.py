"""Figures of an SAE card's offline labels, as the README quotes them.

    python -m benchmarks.label_figures assets/organism/sae/card.json assets/sae/embedded/card.json

Prints one JSON object per card: the card's own summary and the counts read from
``label_details`` (scores on at least 8 held-out windows, swapped halves, flagged labels).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ENOUGH_WINDOWS = 8
IMPRECISE = "on under 2% of their occurrences"
NO_PATTERN = "no token or metadata pattern found"
PLACE = "after a special token"
SHOWN_TOKENS = 5


def figures(card: dict) -> dict:
    details = card.get("label_details") or {}
    offline = {f: d for f, d in details.items() if d.get("source") == "offline"}
    scored = {f: d for f, d in offline.items() if d.get("detection") is not None}
    enough = [d["detection"] for d in scored.values() if d.get("n_test", 0) >= ENOUGH_WINDOWS]
    unscored = [d for d in offline.values() if d.get("detection") is None]
    texts = [d["text"] for d in offline.values()]
    return {
        "labelled": len(offline),
        "scored": len(scored),
        "scored_on_at_least_8": len(enough),
        "mean": round(statistics.fmean(enough), 3) if enough else None,
        "median": round(statistics.median(enough), 3) if enough else None,
        "share_at_least_0.7": round(sum(s >= 0.7 for s in enough) / len(enough), 3) if enough else None,
        "at_least_0.9": sum(s >= 0.9 for s in enough),
        "share_at_most_0.6": round(sum(s <= 0.6 for s in enough) / len(enough), 3) if enough else None,
        "scored_on_fewer_than_8": len(scored) - len(enough),
        "unscored": len(unscored),
        "unscored_one_half_only": sum(
            min(d["firings"]["explain"], d["firings"]["heldout"]) == 0 for d in unscored
        ),
        "unscored_once_each": sum(
            d["firings"]["explain"] == 1 and d["firings"]["heldout"] == 1 for d in unscored
        ),
        "swapped_halves": sum(d.get("scored_on") == "explain" for d in offline.values()),
        "named_more_than_5_tokens": sum(
            len((d.get("rule") or {}).get("tokens") or []) > SHOWN_TOKENS for d in offline.values()
        ),
        "place_labels": sum(PLACE in t for t in texts),
        "imprecise_flag": sum(IMPRECISE in t for t in texts),
        "patternless": sum(t == NO_PATTERN for t in texts),
    }


def main(paths: list[str]) -> None:
    out = {}
    for path in paths:
        card = json.loads(Path(path).read_text())
        out[path] = {
            "summary": (card.get("labels_summary") or {}).get("offline"),
            "figures": figures(card),
        }
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
