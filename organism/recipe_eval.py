"""What a recipe does to the organism on the held-out test topics, measured on its own.

The same figures `python -m organism search` reports for the recipe it finds (organism/search.py,
`measure_condition`): judged outcomes on the sensitive and control test prompts, recovery, KL on
control text to the organism and to the base model, one JSON line per prompt for reading, and the
trade-off curve (recovery and KL of the recipe's first n edits). Use it for a recipe found on
another machine, or one written by hand.

    python -m organism recipe --recipe assets/organism/recipe.json
        # -> benchmarks/results/organism_recipe.json, organism_rows/search_sae_recipe_attributed_search.jsonl
"""

import json
import time
from pathlib import Path

import torch

from core.atomic import write_text_atomic
from core.cost import next_token_cost
from core.edits import load_recipe
from core.errors import BadInputError
from core.generate import GenerationSettings
from core.intervention import Intervention
from core.jsonl import write_jsonl
from core.judge import judge_rows, make_judge
from core.likelihood import reference_nll
from core.prompt_sets import control_texts
from core.recipe_origin import check_origin, recipe_meta
from core.recovery import recovery, recovery_reference
from organism.measure import eval_rows
from organism.search import (
    RECIPE,
    RESULTS,
    ROOT,
    ROWS_DIR,
    _answers,
    _shown,
    machine,
    measure_condition,
)
from organism.train import _log

CONDITION = "SAE recipe (attributed search)"


def measure_recipe(
    device: str = "cpu",
    recipe_path: str | Path = RECIPE,
    curve: tuple[int, ...] = (1, 3, 6, 12),
    max_new_tokens: int = 48,
    models: tuple | None = None,
    limit: int | None = None,
    write: bool = True,
) -> dict:
    """`models` = (organism, base, sae) instead of loading the SAE the recipe names."""
    from core.model import load_subject
    from core.sae import load_sae

    recipe_path = Path(recipe_path)
    if not recipe_path.is_file():
        raise BadInputError(f"no recipe at {recipe_path}")
    text = recipe_path.read_text()
    edits, meta = load_recipe(recipe_path), recipe_meta(text)
    if not edits:
        raise BadInputError(f"{recipe_path} holds no edits")
    t0 = time.time()
    if models is None:
        if not meta.get("sae"):
            raise BadInputError(f"{recipe_path} names no SAE; it cannot be measured")
        organism = load_subject("organism", device=device, dtype=torch.float32)
        base = load_subject("embedded", device=device, dtype=torch.float32)
        sae = load_sae(str(ROOT / meta["sae"]), organism)
        check_origin(meta, sae, organism)  # refuses a recipe made for another SAE or subject
    else:
        organism, base, sae = models
    settings = GenerationSettings(max_new_tokens=max_new_tokens, cache="dynamic")
    judge = make_judge("offline", reference_nll=reference_nll(base))
    cap = limit or None
    control = control_texts()[:cap]
    test = eval_rows("sensitive", "test", 1000)[:cap]
    ctest = eval_rows("control", "test", 8)[:cap]
    _log("answers: organism and base model on the test topics (the recovery reference)")
    org_test, base_test = _answers(organism, test, settings), _answers(base, test, settings)
    ref = recovery_reference(organism, base, test, org_test, base_test)
    iv = Intervention("recipe", edits=edits, sae=sae)
    _log(
        f"the recipe's {len(edits)} edits on {len(test)} sensitive and {len(ctest)} control prompts"
    )
    result, rows, control_rows = measure_condition(
        organism, base, iv, judge, settings, test, ctest, control, ref
    )
    organism_rates, _ = judge_rows(judge, test, org_test)
    base_rates, _ = judge_rows(judge, test, base_test)
    points = []
    for n in sorted({n for n in curve if 0 < n < len(edits)} | {len(edits)}):
        prefix = Intervention("prefix", edits=edits[:n], sae=sae)
        rec = (
            result["recovery"]
            if n == len(edits)
            else recovery(organism, prefix, ref).to_json()["overall"]
        )
        kl = (
            result["kl_vs_organism"]["kl"]
            if n == len(edits)
            else next_token_cost(organism, control, prefix).kl
        )
        points.append({"n": n, "recovery_test": rec, "kl": kl})
        _log(f"first {n} edits: recovery {rec.get('mean')}, KL {kl:.4f}")
    out = {
        "what": "the shipped recipe on the organism's held-out test topics",
        "command": f"python -m organism recipe --recipe {_shown(recipe_path)} --device {device}",
        "machine": machine(device),
        "seconds": round(time.time() - t0, 1),
        "recipe": {"path": _shown(recipe_path), **meta, "n_edits": len(edits)},
        "settings": {"max_new_tokens": max_new_tokens, "greedy": True},
        "n_sensitive": len(test),
        "n_control": len(ctest),
        "organism": {"sensitive": organism_rates},
        "base model (no LoRA)": {"sensitive": base_rates},
        CONDITION: result,
        "tradeoff_curve_test": points,
        "rows": "benchmarks/results/organism_rows/search_sae_recipe_attributed_search.jsonl",
    }
    if write:
        write_jsonl(ROWS_DIR / "search_sae_recipe_attributed_search.jsonl", rows)
        write_jsonl(ROWS_DIR / "search_sae_recipe_attributed_search_control.jsonl", control_rows)
        write_text_atomic(
            RESULTS / "organism_recipe.json",
            json.dumps(out, indent=1, ensure_ascii=False, default=str),
        )
    return out
