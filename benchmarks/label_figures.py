"""Figures of an SAE card's offline labels, as the README quotes them.

    python -m benchmarks.label_figures assets/organism/sae/card.json assets/sae/embedded/card.json

Prints, per card, the summary the dashboard build stored (`labels_summary.offline`) and the
counts it does not hold, read from `label_details`: the tails of the detection scores,
unscored labels, labels scored on swapped halves or on other texts of one half, and flagged
or patternless label texts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.labels import MIN_PRECISION, MIN_TEST, NEAR, SHOWN, Rule

IMPRECISE = f"on under {MIN_PRECISION:.0%} of their occurrences"
NO_PATTERN = Rule().describe()
PLACE = f"on or up to {NEAR} tokens after a special token"
ENOUGH = 2 * MIN_TEST  # held-out windows a score needs to count in the README's means


def offline(details: dict) -> dict:
    """A card's `label_details`, offline labels only."""
    return {k: d for k, d in details.items() if d.get("source") == "offline"}


def counts(details: dict) -> dict:
    labels = list(offline(details).values())
    scored = [d for d in labels if d.get("detection") is not None]
    enough = [d["detection"] for d in scored if d.get("n_test", 0) >= ENOUGH]
    unscored = [d["firings"] for d in labels if d.get("detection") is None]
    texts = [d["text"] for d in labels]
    return {
        "at_least_0.9": sum(s >= 0.9 for s in enough),
        "share_at_most_0.6": round(sum(s <= 0.6 for s in enough) / len(enough), 3)
        if enough
        else None,
        "scored_on_fewer_than_8": len(scored) - len(enough),
        "unscored": len(unscored),
        "unscored_one_half_only": sum(min(f.values()) == 0 for f in unscored),
        "unscored_single_firing": sum(f["explain"] + f["heldout"] == 1 for f in unscored),
        "swapped_halves": sum(d.get("scored_on") == "explain" for d in labels),
        "scored_on_other_texts_of_one_half": sum(
            d.get("scored_on") == "other texts" for d in labels
        ),
        "named_more_than_5_tokens": sum(len(d["rule"]["tokens"]) > SHOWN for d in labels),
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
            "figures": counts(card.get("label_details") or {}),
        }
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
