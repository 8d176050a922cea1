"""LLM labels for an SAE that has a dashboard: explain each feature, score it by detection.

Rebuilds the firings from the dashboard's stored tokens (the model runs once over them), then
for each feature asks the endpoint to explain its explain-record windows (top and random ones,
core/autointerp.py) and scores the explanation on held-out windows drawn as the offline label's
are. Results go into the SAE's card (`llm_labels`), beside the offline labels; the app shows
whichever label detects better, a score on at least 8 windows before any on fewer.

    OPENAI_API_KEY=... python -m training labels --sae assets/organism/sae \
        --model gpt-4.1-mini --features 0-99
"""

import sys

import numpy as np

from core.autointerp import detect, detection_accuracy, explain
from core.dashboard import load_store
from core.labels import LEFT_D, N_TEST, RIGHT_D, Evidence, sample_windows, write_labels
from training.dashboard import firings

N_EXPLAIN_WINDOWS = 12


def evidence_from_store(subject, sae, sae_dir) -> Evidence:
    store = load_store(sae_dir)
    t = store.t
    tok, feat, val = firings(sae, subject, t["tokens"], t["record_start"], t["region"])
    special = tuple(getattr(subject.tokenizer, "all_special_ids", []) or [])
    return Evidence(t["tokens"], t["region"], t["record_start"], store.records, store.tokens,
                    tok, feat, val, store.d_sae, special)  # fmt: skip


def _window(ev: Evidence, store, centre: int, values: dict[int, float]):
    s, e = store.window(int(centre), LEFT_D, RIGHT_D)
    return store.text(ev.tokens[s:e]), [values.get(i, 0.0) for i in range(s, e)]


def llm_label_features(subject, sae, sae_dir, client, features, seed: int = 0) -> dict:
    """{feature: {text, source, model, detection, n_test}} for the given features."""
    store = load_store(sae_dir)
    ev = evidence_from_store(subject, sae, sae_dir)
    rng = np.random.default_rng(seed)
    out = {}
    for n, f in enumerate(features):
        pos, vals = ev.firing(f)
        if len(pos) == 0:
            continue
        values = dict(zip(pos.tolist(), vals.tolist(), strict=True))
        shown = sample_windows(ev, f, ev.explain, N_EXPLAIN_WINDOWS, rng)
        test = sample_windows(ev, f, ev.heldout, N_TEST, rng)
        if shown is None:
            continue
        active = shown.centre[shown.active]
        text = explain(client, [_window(ev, store, c, values) for c in active])
        lab = {"text": text, "source": "llm", "model": client.endpoint.model,
               "detection": None, "n_test": 0}  # fmt: skip
        if test is not None:
            texts = ["".join(_window(ev, store, c, {})[0]) for c in test.centre]
            lab["detection"] = round(
                detection_accuracy(detect(client, text, texts), test.active.tolist()), 3
            )
            lab["n_test"] = len(texts)
        out[int(f)] = lab
        print(f"labels: {n + 1}/{len(features)} #{f}: {text}", file=sys.stderr, flush=True)
    return out


def run(subject, sae, sae_dir, client, features) -> dict:
    labels = llm_label_features(subject, sae, sae_dir, client, features)
    acc = [lab["detection"] for lab in labels.values() if lab["detection"] is not None]
    summary = {
        "method": f"{client.endpoint.model}: explain from explain-record windows, detection on "
        "the held-out windows the offline labels are scored on (0.5 = chance)",
        "labelled": len(labels),
        "mean_detection": round(float(np.mean(acc)), 3) if acc else None,
    }
    write_labels(sae_dir, labels, summary, key="llm")
    return summary
