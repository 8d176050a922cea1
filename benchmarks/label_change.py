"""How an SAE card's offline labels changed between two builds.

    git show HEAD:assets/organism/sae/card.json > /tmp/old_card.json
    python -m benchmarks.label_change /tmp/old_card.json assets/organism/sae/card.json

Prints, from both cards' `label_details`: how many entries, label texts and detection scores
changed (and of the texts, how many keep their first or all shown tokens, and how many change
among rare and frequent latents), which latents were labelled or scored for the first time, which reached the 8
windows the README's mean counts, the mean over latents scored on 8 windows both times,
and the latents still without a score with their firings per half.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.label_figures import ENOUGH, offline
from core.labels import SHOWN

BANDS = ((0, 20), (20, 1000), (1000, None))  # firings on both halves, in the new card


def scored(entry: dict | None) -> bool:
    return entry is not None and entry.get("detection") is not None


def enough(entry: dict | None) -> bool:
    return scored(entry) and entry.get("n_test", 0) >= ENOUGH


def tokens(entry: dict) -> list[str]:
    return entry.get("rule", {}).get("tokens") or []


def firings(entry: dict) -> int:
    return sum((entry.get("firings") or {}).values())


def by_firings(old: dict, new: dict, both: list[str]) -> dict:
    out = {}
    for lo, hi in BANDS:
        band = [k for k in both if firings(new[k]) >= lo and (hi is None or firings(new[k]) < hi)]
        name = f"{lo} or more" if hi is None else f"{lo} to {hi - 1}"
        out[name] = {
            "features": len(band),
            "texts_changed": sum(old[k]["text"] != new[k]["text"] for k in band),
        }
    return out


def change(old: dict, new: dict) -> dict:
    both = [k for k in new if k in old]
    texts = [k for k in both if old[k]["text"] != new[k]["text"]]
    steady = [k for k in both if enough(old[k]) and enough(new[k])]

    def mean(card: dict) -> float | None:
        return round(sum(card[k]["detection"] for k in steady) / len(steady), 4) if steady else None

    return {
        "entries_changed": sum(old.get(k) != new.get(k) for k in set(old) | set(new)),
        "texts_changed": len(texts),
        "texts_changed_keep_first_token": sum(
            tokens(old[k])[:1] == tokens(new[k])[:1] for k in texts
        ),
        "texts_changed_keep_shown_tokens": sum(
            tokens(old[k])[:SHOWN] == tokens(new[k])[:SHOWN] for k in texts
        ),
        "texts_changed_keep_metadata_part": sum(
            old[k].get("rule", {}).get("where") == new[k].get("rule", {}).get("where")
            for k in texts
        ),
        "texts_changed_by_firings": by_firings(old, new, both),
        "detections_changed": sum(old[k].get("detection") != new[k].get("detection") for k in both),
        "newly_labelled": sorted(int(k) for k in new if k not in old),
        "lost": sorted(int(k) for k in old if k not in new),
        "newly_scored": {
            k: {key: new[k].get(key) for key in ("detection", "n_test", "firings")}
            for k in sorted(new, key=int)
            if scored(new[k]) and not scored(old.get(k))
        },
        "lost_score": sorted(int(k) for k in both if scored(old[k]) and not scored(new[k])),
        "reached_8_windows": sorted(
            int(k) for k in new if enough(new[k]) and not enough(old.get(k))
        ),
        "scored_on_8_windows_both_times": len(steady),
        "mean_detection_of_those": {"old": mean(old), "new": mean(new)},
        "still_unscored": {
            k: new[k].get("firings") for k in sorted(new, key=int) if not scored(new[k])
        },
    }


def details(path: str) -> dict:
    return offline(json.loads(Path(path).read_text()).get("label_details") or {})


def main(args: list[str]) -> None:
    if len(args) != 2:
        raise SystemExit("usage: python -m benchmarks.label_change OLD_CARD.json NEW_CARD.json")
    print(json.dumps(change(details(args[0]), details(args[1])), indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
