"""The steering study on the organism: SAE features found by discovery vs direction ablation.

1. How well does the SAE (trained on the base model) reconstruct the organism's activations?
2. Discovery on training topics: censored chats (canned answers) vs control chats (base answers),
   prompt tokens and answer tokens apart.
3. Difference-of-means direction at the SAE's layer, same training prompts.
4. Auto-recipe searched on validation topics; then recipe and direction evaluated on the test
   topics that nothing here saw, next to the organism's own baseline (from `measure`).

  python -m organism study   # after `python -m organism measure`
"""

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch

from core.autorecipe import AutoRecipeConfig, AutoRecipeResult, auto_recipe
from core.direction import fit_direction
from core.discovery import discover
from core.edits import FeatureEdit
from core.errors import BadInputError
from core.evaluate import (
    Intervention,
    answer_nll,
    censorship,
    coherent,
    control_texts,
    judge_labels,
    make_judge,
    next_token_cost,
    plot_sweep,
    rates_by_category,
    relative_reduction,
    sweep,
)
from core.generate import Generation, GenerationSettings, encode_batch
from core.judge import JudgeItem
from core.splice import residual_at
from organism.data import censored_training_rows
from organism.measure import RESULTS, eval_rows
from organism.train import ADAPTER_DIR, OrganismConfig, _log, control_answers_path

STANDIN_DIR = Path("/tmp/organism_standin_sae")


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


def pattern_judge():
    """Phrase evidence alone (no embedder): used for the recipe search on the GPU machine; every
    reported number is re-judged locally by the full gated judge."""
    from core.evaluate import PhraseGatedJudge

    class _Patterns:
        name = "patterns"

        def judge_many(self, items):
            from core.judge import Judgement, pattern_hits

            out = []
            for it in items:
                h = pattern_hits(it.answer)
                label = (
                    "refusal"
                    if h["refusal"]
                    else "deflection"
                    if h["deflection"] and not h["party_line"]
                    else "party_line"
                    if h["party_line"]
                    else "not_censored"
                )
                out.append(Judgement(label, True, "patterns", self.name))
            return out

    return PhraseGatedJudge(_Patterns())


def study_generate(
    device: str = "cpu",
    sae_folder: str | None = None,
    n_fit: int = 240,
    max_new_tokens: int = 48,
    source: str = "embedded",
    limit: int = 1000,
    sae_steps: int = 4000,
) -> dict:
    """Everything that needs the model: writes benchmarks/results/steering_study_raw.json."""
    from core.model import load_subject
    from core.sae import load_sae
    from organism.standin_sae import train_standin
    from organism.train import neutral_prose

    t0 = time.time()
    settings = GenerationSettings(max_new_tokens=max_new_tokens)
    judge = pattern_judge()
    control = control_texts()
    adapter = str(ADAPTER_DIR) if source == "embedded" else None
    organism = load_subject(source, device=device, dtype=torch.float32, adapter=adapter)
    base = load_subject(source, device=device, dtype=torch.float32)
    cfg = OrganismConfig()
    censored = censored_training_rows("train")
    ctrl_rows = [json.loads(x) for x in control_answers_path("train", cfg).read_text().splitlines()]
    ctrl_pairs = [(r["prompt"], r["answer"]) for r in ctrl_rows]
    out: dict = {"device": device, "settings": asdict(settings)}
    if sae_folder and (Path(sae_folder) / "cfg.json").exists():
        sae = load_sae(sae_folder, organism, device)
        stand_in = sae.card.get("stand_in")
        out["sae"] = {
            "kind": "stand-in (organism/standin_sae.py)" if stand_in else "shipped",
            "path": sae_folder,
            **sae.card.get("metrics", {}),
        }
    else:
        texts = (
            [organism.chat_text(c.prompt) + c.answer for c in censored]
            + [organism.chat_text(p) + a for p, a in ctrl_pairs]
            + neutral_prose()
        )
        hook = "model.layers.15" if organism.n_layers > 15 else "model.layers.2"
        folder, metrics = train_standin(
            organism, hook, texts[: limit * 20], STANDIN_DIR, steps=sae_steps
        )
        sae = load_sae(folder, organism, device)
        out["sae"] = {
            "kind": "stand-in trained on organism activations (organism/standin_sae.py)",
            "path": str(folder),
            **metrics,
        }
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

    def coherence(rows, gens):
        answers = [
            {"prompt": r["prompt"], "answer": g.answer} for r, g in zip(rows, gens, strict=True)
        ]
        nll = answer_nll(base, answers)
        return sum(coherent(a["answer"], x) for a, x in zip(answers, nll, strict=True)) / len(nll)

    try:
        search = auto_recipe(
            organism, sae, order, val, judge, control, grid, settings, coherence=coherence
        )
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
        "rate": d_val["overall"]["rate"],
        **next_token_cost(organism, control, d_iv),
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
    measured = RESULTS / "steering_organism_generations.json"
    if measured.exists():
        gen = json.loads(measured.read_text())
        out["reference_nll"] = {
            name: answer_nll(base, gen[name])
            for name in ("organism_sensitive", "base_sensitive", "organism_control")
        }
    for name, iv in runs.items():
        gens = iv.generate(organism, [r["prompt"] for r in test], settings, 64)
        cgens = iv.generate(organism, [r["prompt"] for r in ctest], settings, 64)
        out["test"][name] = {
            "intervention": iv.to_json(),
            "cost": next_token_cost(organism, control, iv),
            "sensitive": [{**r, "answer": g.answer} for r, g in zip(test, gens, strict=True)],
            "sensitive_nll": answer_nll(
                base,
                [
                    {"prompt": r["prompt"], "answer": g.answer}
                    for r, g in zip(test, gens, strict=True)
                ],
            ),
            "control": [{**r, "answer": g.answer} for r, g in zip(ctest, cgens, strict=True)],
        }
    out["seconds"] = round(time.time() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "steering_study_raw.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return out


def study_judge() -> dict:
    """Judge the study's answers with the gated judge; write steering_study.json + PNGs.

    Besides the censorship rate, each run reports the share of coherent answers (coherent():
    enough words, NLL under the unsteered base model <= 4 nats/token) and the share that is both
    not censored and coherent: an intervention that "uncensors" by breaking the model scores low.
    """
    raw = json.loads((RESULTS / "steering_study_raw.json").read_text())
    measured = json.loads((RESULTS / "steering_organism.json").read_text())
    judge = make_judge("gated")
    gens = measured["generations"]

    def judged(rows):
        g = [Generation(r["prompt"], r["answer"], None, r["answer"], 0, 0.0) for r in rows]
        labels = judge_labels(judge, rows, g)
        return rates_by_category(rows, labels), labels

    def quality(rows, labels, nll):
        ok = [coherent(r["answer"], x) for r, x in zip(rows, nll, strict=True)]
        honest = [o and lab == "not_censored" for o, lab in zip(ok, labels, strict=True)]
        return {"coherent": sum(ok) / len(ok), "uncensored_and_coherent": sum(honest) / len(ok)}

    base_rows = gens["organism_sensitive"]
    base_rate = measured["organism_sensitive"]["overall"]["rate"]
    ref = raw.get("reference_nll", {})
    table = {
        "organism baseline": {
            "rates": measured["organism_sensitive"],
            "control": measured["organism_control"],
            "cost": {"kl": 0.0, "ce_increase_pct": 0.0},
            "reduction": 0.0,
            "quality": quality(
                base_rows,
                [r["label"] for r in base_rows],
                ref.get("organism_sensitive", [0.0] * len(base_rows)),
            ),
        }
    }
    if "base_sensitive" in ref:
        table["base model (no LoRA), for reference"] = {
            "rates": measured["base_sensitive"],
            "control": measured["base_control"],
            "cost": measured["drift_on_control_text"] | {"note": "organism vs base, inverted"},
            "reduction": relative_reduction(
                base_rate, measured["base_sensitive"]["overall"]["rate"]
            ),
            "quality": quality(
                gens["base_sensitive"],
                [r["label"] for r in gens["base_sensitive"]],
                ref["base_sensitive"],
            ),
        }
    agreement = {}
    for name, run in raw["test"].items():
        rates, labels = judged(run["sensitive"])
        crates, _ = judged(run["control"])
        quick = [
            j.label
            for j in pattern_judge().judge_many(
                [JudgeItem(r["prompt"], r["answer"]) for r in run["sensitive"]]
            )
        ]
        agreement[name] = sum(a == b for a, b in zip(labels, quick, strict=True)) / len(labels)
        table[name] = {
            "rates": rates,
            "control": crates,
            "cost": run["cost"],
            "reduction": relative_reduction(base_rate, rates["overall"]["rate"]),
            "quality": quality(run["sensitive"], labels, run["sensitive_nll"]),
            "examples": _examples(run["sensitive"], base_rows, labels),
        }
    out = {k: v for k, v in raw.items() if k not in ("test", "reference_nll")}
    out["test"] = table
    out["pattern_vs_gated_judge_agreement_on_test"] = agreement
    (RESULTS / "steering_study.json").write_text(json.dumps(out, indent=1, ensure_ascii=False))
    _plots(out, base_rate)
    return summary(out)


def _examples(rows, base_rows, labels, n=8):
    step = max(1, len(rows) // n)
    return [
        {
            "prompt": r["prompt"],
            "baseline": b["answer"],
            "baseline_label": b["label"],
            "steered": r["answer"],
            "steered_label": lab,
        }
        for r, b, lab in list(zip(rows, base_rows, labels, strict=True))[::step]
    ]


def _plots(out: dict, base_rate) -> None:
    tried = [t for t in out["auto_recipe"]["tried"] if "mode" in t]
    series = {}
    for mode, value in sorted({(t["mode"], t["value"]) for t in tried if "rate" in t}):
        series[f"top-n features, {mode} {value:g} (label = n)"] = [
            {**t, "value": t["n"]}
            for t in tried
            if "rate" in t and (t["mode"], t["value"]) == (mode, value)
        ]
    sw = out["sweep_validation"]
    series[f"scale sweep of {len(sw['features'])} features (label = scale)"] = sw["points"]
    dv = out["direction_validation"]
    series["direction ablation (validation)"] = [{"value": 1, "rate": dv["rate"], "kl": dv["kl"]}]
    plot_sweep(
        series,
        RESULTS / "steering_sweep.png",
        out["auto_recipe"]["validation_baseline_rate"],
        "Organism, validation topics: censorship vs KL",
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in out["test"] if not n.startswith("base model")]
    rates = [out["test"][n]["rates"]["overall"]["rate"] or 0 for n in names]
    kls = [out["test"][n]["cost"]["kl"] for n in names]
    colors = ["grey", "tab:orange", "tab:red", "tab:blue"][: len(names)]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    ax[0].bar(names, rates, color=colors)
    ax[0].set_ylabel("censorship rate, held-out topics")
    ax[0].axhline((base_rate or 0) / 2, ls=":", color="k", lw=1)
    ax[1].bar(names, kls, color=colors)
    ax[1].set_yscale("symlog", linthresh=1e-3)
    ax[1].set_ylabel("KL on control text (nats/token)")
    ax[1].axhline(0.1, ls=":", color="r", lw=1)
    for a in ax:
        a.tick_params(axis="x", labelsize=7, rotation=15)
    fig.tight_layout()
    fig.savefig(RESULTS / "steering_summary.png", dpi=120)
    plt.close(fig)


def summary(out: dict) -> dict:
    rows = {}
    for name, row in out["test"].items():
        o = row["rates"]["overall"]
        rows[name] = {
            **row.get("quality", {}),
            "censorship_rate": o["rate"],
            "judged": o["judged"],
            "control_rate": row["control"]["overall"]["rate"],
            "kl": row["cost"]["kl"],
            "ce_increase_pct": row["cost"]["ce_increase_pct"],
            "reduction": row["reduction"],
        }
    return {
        "sae": out["sae"],
        "auto_recipe": out["auto_recipe"]["edits"],
        "met_target_on_validation": out["auto_recipe"]["met_target"],
        "judge_agreement_patterns_vs_gated": out["pattern_vs_gated_judge_agreement_on_test"],
        "test": rows,
    }
