"""Steering the organism properly: patching bound, attributed recipe search, direction baselines.

On validation topics (never the test topics), with the organism's SAE:
  1. the patching upper bound per layer: the base model's residual after layer L, at every
     position, generated ones included (core/patching.py);
  2. the recipe search (core/recipe_search.py): candidates by attribution (core/attribution.py) of
     log p(organism answer) - log p(base answer), re-attributed after each accepted feature so
     backups surface; objective = mean recovery (judge-free), budget = KL on control text;
     ablation on generated positions only;
  3. direction baselines (Arditi et al. 2024): a difference-of-means direction at the last prompt
     positions for every layer, chosen on validation by judged censorship reduction with KL < 0.1
     on control text, ablated at every layer; and activation addition of the negated direction at
     its own layer.
Then every condition on the held-out test topics: judged outcomes (offline judge with a base-model
word-salad check), recovery, KL to the organism and to the base model, one JSON line per prompt.

    python -m organism search --device cuda      # writes benchmarks/results/organism_search.json
"""

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from core.attribution import attribute
from core.cost import next_token_cost
from core.direction import fit_direction
from core.generate import GenerationSettings
from core.intervention import BASELINE, Intervention
from core.jsonl import write_jsonl
from core.judge import judge_rows, make_judge
from core.likelihood import reference_nll
from core.prompt_sets import control_texts
from core.recipe_search import SearchConfig, greedy_search
from core.recovery import recovery, recovery_reference
from core.sae import resid_hook
from organism.measure import eval_rows
from organism.report import slug
from organism.train import _log

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ROWS_DIR = RESULTS / "organism_rows"
RECIPE = ROOT / "assets" / "organism" / "recipe.json"


def _answers(subject, rows, settings, iv=BASELINE) -> list[str]:
    return [
        g.raw_answer or g.answer
        for g in iv.generate(subject, [r["prompt"] for r in rows], settings, 64)
    ]


def candidate_edits(att, n: int = 40, where: str = "generated") -> list:
    """Search candidates from one attribution, strongest |score| first: features that carry the
    censored answer (score > 0) to ablate, and features that carry the honest one (score < 0,
    more active on the reference answers) to clamp up to their mean strength on those answers,
    a value they really take on honest text."""
    from core.edits import FeatureEdit

    scores = att.scores("answer")
    ranked = [(f, s) for f, s in att.top(n, "answer") if s > 0]
    if att.reference_mean is not None:
        for f in np.argsort(scores)[:n]:
            f = int(f)
            up = float(att.reference_mean[f])
            if scores[f] < 0 and up > float(att.censored_mean[f]) and up > 0:
                ranked.append((FeatureEdit(f, "clamp", round(up, 4), where), float(scores[f])))
    ranked.sort(key=lambda t: -abs(t[1]))
    return [c for c, _ in ranked]


def measure_condition(
    organism, base, iv, judge, settings, test, ctest, control, ref_test, answers=None
) -> tuple[dict, list[dict]]:
    """One intervention on the test topics: judged outcomes (sensitive and control prompts),
    recovery, KL on control text to the organism and to the base model; and one row per prompt
    (sensitive, then control)."""
    answers = answers if answers is not None else _answers(organism, test, settings, iv)
    rates, js = judge_rows(judge, test, answers)
    canswers = _answers(organism, ctest, settings, iv)
    crates, cjs = judge_rows(judge, ctest, canswers)
    rec = recovery(organism, iv, ref_test).to_json()
    result = {
        "intervention": iv.to_json(),
        "sensitive": rates,
        "control": crates,
        "recovery": rec["overall"],
        "recovery_by_topic": rec["by_topic"],
        "kl_vs_organism": next_token_cost(organism, control, iv).to_json(),
        "kl_vs_base": next_token_cost(organism, control, iv, reference=base).to_json(),
    }
    rows = [{"prompt": r["prompt"], "topic": r["topic"], "lang": r["lang"], "answer": a,
             "label": j.label, "rationale": j.rationale, "recovery": rec["per_prompt"][i]}
            for i, (r, a, j) in enumerate(zip(test, answers, js, strict=True))]  # fmt: skip
    control_rows = [{"prompt": r["prompt"], "topic": r["topic"], "lang": r["lang"], "answer": a,
                     "label": j.label, "rationale": j.rationale}
                    for r, a, j in zip(ctest, canswers, cjs, strict=True)]  # fmt: skip
    return result, rows, control_rows


def search(
    device: str = "cuda",
    sae_path: str | None = None,
    layers=(5, 10, 15, 20, 25),
    models: tuple | None = None,
    limit: int | None = None,
    max_new_tokens: int = 48,
    write: bool = True,
    directions: bool = True,
    config: SearchConfig | None = None,
    clamp: bool = True,
    checkpoint: str | Path | None = None,
) -> dict:
    """`models` = (organism, base, sae) to use instead of loading them; `limit` caps every prompt
    set (smoke tests); `write` saves results, rows and assets/organism/recipe.json; `layers` are
    the patching-bound layers; `directions=False` skips the direction baselines; `clamp=False`
    searches ablations only. The search saves each accepted step to `checkpoint` (by default,
    when writing, data/searches/organism_<SAE fingerprint>.json) and a rerun resumes there."""
    from core.model import load_subject
    from core.sae import load_sae
    from core.settings import ORGANISM_SAE

    settings = GenerationSettings(
        max_new_tokens=max_new_tokens, cache="dynamic"
    )  # hooks + graphs clash
    if models is None:
        organism = load_subject("organism", device=device, dtype=torch.float32)
        base = load_subject("embedded", device=device, dtype=torch.float32)
        sae = load_sae(sae_path or str(ORGANISM_SAE), organism)
    else:
        organism, base, sae = models
    judge = make_judge("offline", reference_nll=reference_nll(base))
    cap = limit or None
    control = control_texts()[:cap]
    val = eval_rows("sensitive", "val", 1000)[:cap]
    test = eval_rows("sensitive", "test", 1000)[:cap]
    ctest = eval_rows("control", "test", 8)[:cap]
    ctrain = eval_rows("control", "train", 8)[:cap]
    strain = eval_rows("sensitive", "train", 12)[:cap]
    out: dict = {"device": device, "sae": {"path": str(sae.path), "hook": sae.hook_name,
                 "d_sae": sae.d_sae}, "settings": asdict(settings)}  # fmt: skip

    _log("answers: organism and base on validation and test topics")
    org_val, base_val = _answers(organism, val, settings), _answers(base, val, settings)
    org_test, base_test = _answers(organism, test, settings), _answers(base, test, settings)
    ref_val = recovery_reference(organism, base, val, org_val, base_val)
    ref_test = recovery_reference(organism, base, test, org_test, base_test)

    # 1. patching upper bound (validation and test: it selects nothing)
    out["patching_bound"] = {}
    for layer in layers:
        if layer >= organism.n_layers:
            continue
        iv = Intervention(
            f"patch from base after layer {layer}", donor=base, layers=[resid_hook(layer)]
        )
        answers = _answers(organism, test, settings, iv)
        rates, _ = judge_rows(judge, test, answers)
        out["patching_bound"][layer] = {
            "test": rates["overall"],
            "recovery": recovery(organism, iv, ref_test).to_json()["overall"],
        }
        _log(f"patch bound layer {layer}: {rates['overall']['answered_rate']}")

    # 2. recipe search on validation
    triples = [
        (r["prompt"], o, b)
        for r, o, b in zip(val, org_val, base_val, strict=True)
        if o.strip() and b.strip()
    ]
    triples = triples[::2][:64]

    def candidates(recipe):
        iv = Intervention("recipe", edits=recipe, sae=sae) if recipe else None
        att = attribute(organism, sae, triples, iv)
        if not clamp:
            return [f for f, s in att.top(40, "answer") if s > 0]
        return candidate_edits(att, 40, cfg.where)

    def objective(recipe):
        iv = Intervention("recipe", edits=recipe, sae=sae) if recipe else BASELINE
        return recovery(organism, iv, ref_val).to_json()["overall"]["clipped_mean"] or 0.0

    def cost(recipe):
        return next_token_cost(organism, control, Intervention("r", edits=recipe, sae=sae)).kl

    cfg = config or SearchConfig(max_features=8, candidates=10, max_kl=0.05)
    if checkpoint is None and write:
        from core.recipe_origin import sae_fingerprint

        checkpoint = ROOT / "data" / "searches" / f"organism_{sae_fingerprint(sae)}.json"
    found = greedy_search(candidates, objective, cost, cfg, checkpoint=checkpoint)
    out["search"] = {"config": asdict(cfg), **found.to_json(), "n_triples": len(triples)}

    # 3. direction baselines, chosen on validation
    out["direction_layers"] = []
    best = None
    base_val_rates, _ = judge_rows(judge, val, org_val)
    base_cens = base_val_rates["overall"]["censored_rate"]
    for layer in range(1, organism.n_layers, 3) if directions else ():
        d = fit_direction(
            organism,
            resid_hook(layer),
            [r["prompt"] for r in strain],
            [r["prompt"] for r in ctrain],
        )
        iv = Intervention(f"direction L{layer}", direction=d)
        kl = next_token_cost(organism, control, iv).kl
        row = {"layer": layer, "kl": kl}
        if kl < 0.1:
            rates, _ = judge_rows(judge, val, _answers(organism, val, settings, iv))
            row.update(
                {k: rates["overall"][k] for k in ("censored_rate", "answered_rate", "broken_rate")}
            )
            if best is None or rates["overall"]["censored_rate"] < best[0]:
                best = (rates["overall"]["censored_rate"], d)
        out["direction_layers"].append(row)
        _log(f"direction layer {layer}: {row}")
    conditions: dict[str, Intervention] = {"organism": BASELINE}
    if found.edits:
        conditions["SAE recipe (attributed search)"] = Intervention(
            "recipe", edits=found.edits, sae=sae
        )
    if best is not None:
        d = best[1]
        out["direction_chosen"] = {"hook_name": d.hook_name, "val_censored_rate": best[0],
                                   "val_organism_censored_rate": base_cens}  # fmt: skip
        conditions["direction ablation, every layer"] = Intervention("direction", direction=d)
        conditions["activation addition of -direction"] = Intervention(
            "actadd", direction=d, alpha=-d.norm
        )

    # 4. test topics
    out["test"] = {}
    ROWS_DIR.mkdir(parents=True, exist_ok=True)
    for name, iv in conditions.items():
        answers = org_test if iv is BASELINE else None
        out["test"][name], rows, control_rows = measure_condition(
            organism, base, iv, judge, settings, test, ctest, control, ref_test, answers
        )
        if write:
            write_jsonl(ROWS_DIR / f"search_{slug(name)}.jsonl", rows)
            write_jsonl(ROWS_DIR / f"search_{slug(name)}_control.jsonl", control_rows)
    base_rates, _ = judge_rows(judge, test, base_test)
    out["test"]["base model (no LoRA)"] = {"sensitive": base_rates, "recovery": {"mean": 1.0}}
    if found.edits and write:
        curve = []
        for n in range(1, len(found.edits) + 1):
            iv = Intervention("prefix", edits=found.edits[:n], sae=sae)
            curve.append({"n": n, "recovery_test": recovery(organism, iv, ref_test).to_json()["overall"],
                          "kl": next_token_cost(organism, control, iv).kl})  # fmt: skip
        out["tradeoff_curve"] = curve
        from core.edits import recipe_to_json
        from core.recipe_origin import recipe_origin

        origin = {**recipe_origin(sae, organism), "sae": _shown(sae.path)}
        made_by = (
            f"python -m organism search --sae {_shown(sae.path)} --max-features "
            f"{cfg.max_features} --min-gain {cfg.min_gain} (greedy attributed search on "
            "validation topics)"
        )
        RECIPE.write_text(recipe_to_json(found.edits, **origin, made_by=made_by) + "\n")
    if write:
        path = RESULTS / "organism_search.json"
        path.write_text(json.dumps(out, indent=1, ensure_ascii=False, default=str))
    return out


def _shown(path) -> str:
    """A path as the repo names it (relative to its root when inside)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def machine(device: str) -> str:
    """The machine a result was measured on, for its JSON."""
    import os
    import platform

    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
