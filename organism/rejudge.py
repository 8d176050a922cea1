"""Judge every saved organism answer again, after the judge changed.

Each file under benchmarks/results/organism_rows/ (the first organism), organism_v2_rows/ (the
second) and organism_v3_rows/ (the third, shipped) holds one answer a line with the judge's label.
This re-labels every line with the current offline judge (and the base model's word-salad check),
rewrites the files, and writes
benchmarks/results/rejudged.json: per file, the outcome shares under the labels it held before
and under the new ones ("before" is the label a row had before it was first re-judged, kept in
the row as `label_before`). The summary JSONs of the runs that made the answers keep the figures of
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
ROW_DIRS = (RESULTS / "organism_rows", RESULTS / "organism_v2_rows", RESULTS / "organism_v3_rows")
KEYS = ("n", "censored_rate", "answered_rate", "broken_rate")


def rejudge_rows(judge, dirs=ROW_DIRS, out: Path | None = RESULTS / "rejudged.json") -> dict:
    """Re-label every rows file in `dirs` with `judge`; the shares before and after, per file.

    Every file is read and judged before any is written, and nothing is written when a line is
    not JSON or the judge left an answer unjudged. Each row keeps the label it had before its
    first re-judging (`label_before`), so "before" stays the same on a rerun."""
    files = [p for d in dirs for p in sorted(Path(d).glob("*.jsonl"))]
    if not files:
        raise BadInputError(f"no answer files in {', '.join(map(str, dirs))}")
    result: dict = {"judge": getattr(judge, "name", "judge"), "files": {}}
    staged = []
    for path in files:
        name = f"{path.parent.name}/{path.name}"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            rows = [json.loads(x) for x in lines if x.strip()]
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BadInputError(f"{name} is not JSON Lines ({err}); nothing was rewritten") from err
        if not rows or any("answer" not in r for r in rows):
            _log(f"{name}: no answers; left as it is")
            continue
        for r in rows:
            r.setdefault("label_before", r.get("label", "unjudged"))
        before = rates_by_category(rows, [r["label_before"] for r in rows])["overall"]
        rates, js = judge_rows(judge, rows)
        if any(j.label == "unjudged" for j in js):
            raise BadInputError(f"the judge left answers of {name} unjudged; nothing was rewritten")
        changed = sum(r["label_before"] != j.label for r, j in zip(rows, js, strict=True))
        for r, j in zip(rows, js, strict=True):
            r["label"], r["rationale"] = j.label, j.rationale
        staged.append((path, rows))
        result["files"][name] = {
            "before": {k: before[k] for k in KEYS},
            "after": {k: rates["overall"][k] for k in KEYS},
            "labels_changed": changed,
        }
        _log(f"{name}: {changed} of {len(rows)} labels differ from before")
    for path, rows in staged:
        write_jsonl(path, rows)
    if out is not None:
        write_text_atomic(out, json.dumps(result, indent=1, ensure_ascii=False))
    return result
