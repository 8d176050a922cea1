"""Judge every saved organism answer again, after the judge changed.

Each file under benchmarks/results/organism_rows/ (the first organism) and organism_v2_rows/
(the second) holds one answer a line with the judge's label. This re-labels every line with the
current offline judge (and the base model's word-salad check), rewrites the files, and writes
benchmarks/results/rejudged.json: per file, the outcome shares under the labels it held before
and under the new ones. The summary JSONs of the runs that made the answers keep the figures of
the judge they ran with.

    python -m organism rejudge
"""

import json
from pathlib import Path

from core.atomic import write_text_atomic
from core.errors import BadInputError
from core.jsonl import write_jsonl
from core.judge import judge_rows, rates_by_category
from organism.train import _log

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
ROW_DIRS = (RESULTS / "organism_rows", RESULTS / "organism_v2_rows")
KEYS = ("n", "censored_rate", "answered_rate", "broken_rate")


def rejudge_rows(judge, dirs=ROW_DIRS, out: Path | None = RESULTS / "rejudged.json") -> dict:
    """Re-label every rows file in `dirs` with `judge`; the shares before and after, per file."""
    files = [p for d in dirs for p in sorted(Path(d).glob("*.jsonl"))]
    if not files:
        raise BadInputError(f"no answer files in {', '.join(map(str, dirs))}")
    result: dict = {"judge": getattr(judge, "name", "judge"), "files": {}}
    for path in files:
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
        if not rows or any("answer" not in r for r in rows):
            _log(f"{path.name}: no answers; left as it is")
            continue
        before = rates_by_category(rows, [r.get("label", "unjudged") for r in rows])["overall"]
        rates, js = judge_rows(judge, rows)
        changed = sum(r.get("label") != j.label for r, j in zip(rows, js, strict=True))
        for r, j in zip(rows, js, strict=True):
            r["label"], r["rationale"] = j.label, j.rationale
        write_jsonl(path, rows)
        name = f"{path.parent.name}/{path.name}"
        result["files"][name] = {
            "before": {k: before[k] for k in KEYS},
            "after": {k: rates["overall"][k] for k in KEYS},
            "labels_changed": changed,
        }
        _log(f"{name}: {changed} of {len(rows)} labels changed")
    if out is not None:
        write_text_atomic(out, json.dumps(result, indent=1, ensure_ascii=False))
    return result
