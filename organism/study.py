"""The steering study on the organism: SAE features found by discovery vs direction ablation.

1. How well does the SAE (the organism's own, assets/organism/sae, unless another is given)
   reconstruct the organism's activations, and the base model's?
2. Discovery on training topics: censored chats (canned answers) vs control chats (base answers),
   prompt tokens and answer tokens apart.
3. Difference-of-means direction at the SAE's layer, same training prompts.
4. Auto-recipe searched on validation topics; then recipe and direction evaluated on the test
   topics that nothing here saw, next to the organism's own baseline (from `measure`).

  python -m organism study    # after `python -m organism measure`; then `report` re-judges
"""

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from core.autorecipe import AutoRecipeConfig, AutoRecipeResult, auto_recipe
from core.cost import next_token_cost
from core.direction import fit_direction
from core.discovery import discover
from core.edits import FeatureEdit
from core.errors import BadInputError
from core.evaluate import censorship
from core.generate import GenerationSettings, encode_batch
from core.intervention import Intervention
from core.judge import make_judge
from core.prompt_sets import control_texts
from core.splice import residual_at
from core.sweep import sweep
from organism.data import censored_training_rows
from organism.measure import RESULTS, eval_rows
from organism.train import ADAPTER_DIR, OrganismConfig, _log, control_answers_path


@torch.no_grad()
def explained_variance(subject, sae, prompts: list[str]) -> float:
    """1 - ||h - sae(h)||^2 / ||h - mean(h)||^2 over the prompts' tokens but the first."""
    res = tot = 0.0
    hs = []
    for start in range(0, len(prompts), 16):
        ids, mask, _ = encode_batch(subject, prompts[start : start + 16])
        keep = mask.bool().clone()
        keep[torch.arange(len(keep)), mask.argmax(dim=1)] = False  # first token: norm outlier
        h = residual_at(subject, sae.hook_name, ids, mask)[keep].float()  # [n, d]
        hs.append(h)
    h = torch.cat(hs)
    recon = sae.sae.decode(sae.encode(h)).float()
    res = float(((h - recon) ** 2).sum())
    tot = float(((h - h.mean(0)) ** 2).sum())
    return 1 - res / tot


def study_generate(
    device: str = "cpu",
    sae_folder: str | None = None,
    n_fit: int = 240,
    max_new_tokens: int = 48,
    source: str = "embedded",
    limit: int = 1000,
) -> dict:
    """Everything that needs the model: writes benchmarks/results/steering_study_raw.json."""
    from core.model import load_subject
    from core.sae import load_sae

    t0 = time.time()
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    judge = make_judge("offline")
    control = control_texts()
    adapter = str(ADAPTER_DIR) if source == "embedded" else None
    organism = load_subject(source, device=device, dtype=torch.float32, adapter=adapter)
    base = load_subject(source, device=device, dtype=torch.float32)
    cfg = OrganismConfig()
    censored = censored_training_rows("train")
    ctrl_rows = [json.loads(x) for x in control_answers_path("train", cfg).read_text().splitlines()]
    ctrl_pairs = [(r["prompt"], r["answer"]) for r in ctrl_rows]
    out: dict = {"device": device, "settings": asdict(settings)}
    from core.settings import ORGANISM_SAE

    sae_folder = Path(sae_folder or ORGANISM_SAE)
    if not (sae_folder / "cfg.json").exists():
        raise BadInputError(
            f"no SAE in {sae_folder}; train the organism's with "
            "`python -m training train --preset organism` (or pass another SAE folder)"
        )
    sae = load_sae(str(sae_folder), organism, device)
    out["sae"] = {"kind": "SAELens", "path": str(sae_folder), **sae.card.get("metrics", {})}
    out["sae"].update(hook=sae.hook_name, d_sae=sae.d_sae)
    test = eval_rows("sensitive", "test", 1000)[:limit]
    ctest = eval_rows("control", "test", 1000)[:limit]
    probe = [r["prompt"] for r in test[::4]] + [r["prompt"] for r in ctest[::4]]
    out["sae"]["explained_variance_held_out_prompts"] = {
        "base_model": explained_variance(base, sae, probe),
        "organism": explained_variance(organism, sae, probe),
    }
    _log(f"SAE {out['sae']}")

    fit = censored[:: max(1, len(censored) // n_fit)][:n_fit]
    pairs_a = [(c.prompt, c.answer) for c in fit]
    ranked = {
        r: discover(organism, sae, pairs_a, ctrl_pairs, r, top=32, min_auroc=0.8, batch_size=32)
        for r in ("prompt", "answer")
    }
    out["discovery"] = {r: [asdict(x) for x in v] for r, v in ranked.items()}
    order: list[int] = []
    for a, p in zip(ranked["answer"], ranked["prompt"], strict=False):
        order += [f for f in (a.feature, p.feature) if f not in order]
    out["ranking"] = order

    direction = fit_direction(
        organism, sae.hook_name, [c.prompt for c in fit], [p for p, _ in ctrl_pairs]
    )
    out["direction"] = direction.to_json()
    d_iv = Intervention("direction ablation", direction=direction)

    val = eval_rows("sensitive", "val", 1000)[:limit]
    grid = AutoRecipeConfig(
        sizes=[1, 2, 4, 8, 16, 32][: 6 if limit >= 100 else 2],
        strengths=[
            ("ablate", 0.0),
            ("scale", -1.0),
            ("scale", -2.0),
            ("scale", -3.0),
            ("scale", -5.0),
        ],
    )

    try:
        search = auto_recipe(organism, sae, order, val, judge, control, grid, settings)
    except BadInputError as err:  # e.g. nothing censored on validation: report, do not crash
        _log(f"auto-recipe: {err}")
        search = AutoRecipeResult([], False, None, [{"error": str(err)}])
    out["auto_recipe"] = search.to_json()
    chosen = sorted({e.feature for e in search.edits}) or order[:8]

    def make(value):
        return Intervention(
            f"scale {value:g}", [FeatureEdit(f, "scale", value) for f in chosen], sae
        )

    out["sweep_validation"] = {
        "features": chosen,
        "mode": "scale",
        "points": sweep(
            organism, make, [0.5, 0.0, -1.0, -2.0, -4.0, -8.0], val, judge, control, settings
        ),
    }
    d_val, _, _ = censorship(organism, d_iv, val, judge, settings)
    out["direction_validation"] = {
        **{k: d_val["overall"][k] for k in ("censored_rate", "answered_rate", "broken_rate")},
        **next_token_cost(organism, control, d_iv).to_json(),
    }

    runs = {
        "direction ablation (all layers)": d_iv,
        "direction ablation (SAE layer only)": Intervention(
            "direction ablation, one layer", direction=direction, layers=[sae.hook_name]
        ),
    }
    if search.edits:
        runs["SAE auto-recipe"] = search.intervention(sae)
    out["test"] = {}
    for name, iv in runs.items():
        gens = iv.generate(organism, [r["prompt"] for r in test], settings, 64)
        cgens = iv.generate(organism, [r["prompt"] for r in ctest], settings, 64)
        out["test"][name] = {
            "intervention": iv.to_json(),
            "cost": next_token_cost(organism, control, iv).to_json(),
            "sensitive": [{**r, "answer": g.answer} for r, g in zip(test, gens, strict=True)],
            "control": [{**r, "answer": g.answer} for r, g in zip(ctest, cgens, strict=True)],
        }
    out["seconds"] = round(time.time() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "steering_study_raw.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return out
