"""Which layer should the organism's SAE read? Train one with SAELens at each, and search there.

For every layer: `python -m training train --preset organism --layer L` (SAELens, the organism's
own training-split corpus), then at that layer
  - explained variance and CE loss score on held-out text (the training run's final eval),
  - the patching upper bound (the base model's residual after L, every position, generated ones
    included) on the test topics,
  - the attributed recipe search (organism/search.py) on validation topics, and what its recipe
    does on the test topics: judged outcomes, recovery, KL on control text.
The layer is chosen on validation alone (the search objective, mean recovery, among recipes within
the KL budget); test figures are reported for every layer, chosen or not.

    python -m organism layers --layers 10 15 20 25 --device cuda   # -> benchmarks/results/organism_layers.json
"""

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch

from core.atomic import write_text_atomic
from core.errors import BadInputError
from core.recipe_search import SearchConfig
from organism.search import RESULTS, machine, search
from organism.train import _log

ROOT = Path(__file__).resolve().parent.parent
RECIPE_NAME = "SAE recipe (attributed search)"


def layer_row(layer: int, card: dict, found: dict) -> dict:
    """One layer's figures from its SAE card and its search result."""
    m = card["metrics"]
    test = found["test"].get(RECIPE_NAME)
    bound = found["patching_bound"].get(layer, {})
    row = {
        "layer": layer,
        "hook": card["hook_name"],
        "explained_variance": m.get("explained_variance"),
        "ce_loss_score": m.get("ce_loss_score"),
        "l0": m.get("l0"),
        "dead_features": m.get("dead_features"),
        "patching_bound": {
            "answered_rate": bound.get("test", {}).get("answered_rate"),
            "broken_rate": bound.get("test", {}).get("broken_rate"),
            "recovery_mean": bound.get("recovery", {}).get("mean"),
        },
        "search": {
            "val_objective": found["search"]["objective"],
            "n_edits": len(found["search"]["edits"]),
            "edits": found["search"]["edits"],
            "stopped": found["search"]["stopped"],
        },
        "test": None,
    }
    if test is not None:
        sens = test["sensitive"]["overall"]
        row["test"] = {
            "censored_rate": sens["censored_rate"],
            "answered_rate": sens["answered_rate"],
            "broken_rate": sens["broken_rate"],
            "control_censored_rate": test["control"]["overall"]["censored_rate"],
            "control_broken_rate": test["control"]["overall"]["broken_rate"],
            "recovery_mean": test["recovery"].get("mean"),
            "recovery_median": test["recovery"].get("median"),
            "kl_vs_organism": test["kl_vs_organism"]["kl"],
            "kl_vs_base": test["kl_vs_base"]["kl"],
        }
    return row


def choose(rows: list[dict]) -> dict:
    """The layer whose recipe reached the highest validation objective (recovery); test figures
    play no part."""
    usable = [r for r in rows if r["search"]["n_edits"]]
    if not usable:
        return max(rows, key=lambda r: r["explained_variance"] or 0.0)
    return max(usable, key=lambda r: r["search"]["val_objective"])


def study_layers(
    layers: list[int],
    device: str = "cuda",
    out_dir: str | Path = ROOT / "data" / "organism_layers",
    tokens: int | None = None,
    answers: int | None = None,
    config: SearchConfig | None = None,
    limit: int | None = None,
    ship: bool = False,
    models: tuple | None = None,
    preset_name: str = "organism",
    train_overrides: dict | None = None,
) -> dict:
    """Train, measure and search at each layer; `ship` copies the chosen SAE to
    assets/organism/sae (an existing one is replaced only after the new one is complete).
    `models` = (organism, base) instead of loading them, `preset_name` and `train_overrides`
    another training setup (smoke tests)."""
    from core.model import load_subject
    from core.sae import load_sae
    from training.config import preset
    from training.trainer import train

    if not layers:
        raise BadInputError("give at least one layer")
    out_dir = Path(out_dir)
    if models is None:
        organism = load_subject("organism", device=device, dtype=torch.float32)
        base = load_subject("embedded", device=device, dtype=torch.float32)
    else:
        organism, base = models
    bad = [layer for layer in layers if not 0 <= layer < organism.n_layers]
    if bad:
        raise BadInputError(f"layers {bad} are outside 0..{organism.n_layers - 1}")
    config = config or SearchConfig(max_features=16, candidates=12, max_kl=0.05)
    overrides = {k: v for k, v in {"tokens": tokens, "answers": answers}.items() if v}
    overrides.update(train_overrides or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, saes = _done_rows(out_dir, config), {}
    for layer in layers:
        if any(r["layer"] == layer for r in rows):
            _log(f"layer {layer}: measured already ({out_dir / 'organism_layers.json'})")
            saes[layer] = out_dir / f"sae_L{layer}"
            continue
        t0 = time.time()
        cfg = preset(
            preset_name,
            **{
                "device": device,
                "name": f"organism_L{layer}",
                "dashboard_tokens": 0,  # built for the chosen layer only
                **overrides,
                "layer": layer,
                "run_dir": str(out_dir / f"run_L{layer}"),
                "output": str(out_dir / f"sae_L{layer}"),
            },
        )
        _log(f"layer {layer}: training the SAE ({cfg.tokens:,} tokens)")
        folder = train(cfg, subject=organism)
        card = json.loads((folder / "card.json").read_text())
        train_s = time.time() - t0
        sae = load_sae(str(folder), organism)
        _log(f"layer {layer}: EV {card['metrics'].get('explained_variance')}; searching")
        found = search(
            device,
            models=(organism, base, sae),
            layers=(layer,),
            limit=limit,
            write=False,
            directions=False,
            config=config,
            checkpoint=out_dir / f"search_L{layer}.json",
        )
        row = layer_row(layer, card, found)
        row["seconds"] = {"train": round(train_s, 1), "total": round(time.time() - t0, 1)}
        rows.append(row)
        saes[layer] = folder
        _log(f"layer {layer}: {json.dumps(row['test'])}")
        _write(out_dir, layers, rows, config, device, None, models is None)
    rows = [r for r in rows if r["layer"] in layers]
    chosen = choose(rows)
    out = _write(out_dir, layers, rows, config, device, chosen["layer"], models is None)
    if ship:
        ship_sae(saes[chosen["layer"]], organism)
    return out


def _done_rows(out_dir: Path, config: SearchConfig) -> list[dict]:
    """Layers an interrupted run measured already, when it searched with the same config."""
    path = out_dir / "organism_layers.json"
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    if old.get("search_config") != asdict(config):
        return []
    return [r for r in old["layers"] if (out_dir / f"sae_L{r['layer']}").is_dir()]


def _write(out_dir, layers, rows, config, device, chosen, publish=True) -> dict:
    out = {
        "what": "the organism's SAE (SAELens, organism preset) at each layer: fidelity, "
        "patching bound, best recipe found on validation topics and its effect on test topics",
        "command": f"python -m organism layers --layers {' '.join(map(str, layers))} "
        f"--device {device}",
        "machine": machine(device),
        "search_config": asdict(config),
        "chosen_layer": chosen,
        "chosen_by": "highest validation objective (mean clipped recovery) within the KL budget",
        "layers": rows,
    }
    text = json.dumps(out, indent=1, ensure_ascii=False, default=str)
    write_text_atomic(out_dir / "organism_layers.json", text)
    if publish:
        write_text_atomic(RESULTS / "organism_layers.json", text)
    return out


def ship_sae(folder: Path, organism, target: Path = ROOT / "assets" / "organism" / "sae") -> Path:
    """Copy the chosen SAE into assets/ with its dashboard and offline labels, built now on the
    organism from the same annotated text as `python -m training dashboard`."""
    from core.sae import load_sae
    from training.annotated import dashboard_records
    from training.dashboard import build_dashboard

    stage = target.with_name(target.name + ".partial")
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(folder, stage)
    sae = load_sae(stage, organism, staging=True)
    build_dashboard(sae, organism, dashboard_records("recorded"), stage, context_size=192)
    if target.exists():
        shutil.rmtree(target)
    stage.rename(target)
    return target
