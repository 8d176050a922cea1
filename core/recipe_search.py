"""Recipe search that finds the backups: greedy over attributed candidates, with real ablations.

Removing the features that carry a censored answer often lets dormant backup features take over
(the "hydra effect"). So the search re-attributes after every accepted step, on the model with the
recipe so far applied, and the backups it wakes up become the next candidates:

    recipe = []
    repeat: candidates = top attributed features under the current recipe
            score each candidate by a real edit (recipe + candidate) on the selection prompts
            accept the best if it gains at least `min_gain` and stays within the KL budget
until no candidate helps.

A candidate is a feature id (edited by `mode`, i.e. ablated) or a whole FeatureEdit: features
that carry the honest answer can be clamped up to a strength they take on honest text (never a
value outside what the feature was seen to do). The objective and the cost are functions, so the same loop serves the organism (objective:
recovery, judge-free) and any subject with reference answers. Edits act on generated positions
only by default: the chat template's tokens, which tell the model whose turn it is, stay as they
are unless `where` says otherwise.

    result = greedy_search(candidates_fn, objective_fn, cost_fn, SearchConfig())
"""

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.edits import FeatureEdit
from core.errors import BadInputError


@dataclass
class SearchConfig:
    max_features: int = 8
    """Most features a recipe may hold."""
    candidates: int = 12
    """Top attributed features tried by real ablation at each step."""
    min_gain: float = 0.01
    """Smallest objective gain for a step to count."""
    max_kl: float = 0.05
    """Budget: KL per token on control text (nats) that a recipe may cost."""
    where: str = "generated"
    """Positions edited: generated (default: never the prompt or its chat template) | all."""
    mode: str = "ablate"
    """Edit mode; 'ablate' sets the activation to 0, a value the feature takes on honest text."""

    def __post_init__(self):
        if self.max_features < 1 or self.candidates < 1:
            raise BadInputError("max_features and candidates must be at least 1")
        if self.where not in ("generated", "all"):
            raise BadInputError(f"where must be generated or all, got {self.where!r}")


@dataclass
class SearchResult:
    edits: list[FeatureEdit]
    objective: float
    steps: list[dict] = field(default_factory=list)
    """Per accepted step: feature, objective, KL, candidates tried; the trade-off curve."""
    stopped: str = ""

    def to_json(self) -> dict:
        return {
            "edits": [asdict(e) for e in self.edits],
            "objective": self.objective,
            "steps": self.steps,
            "stopped": self.stopped,
        }


def _log(msg: str) -> None:
    print(f"[search] {msg}", file=sys.stderr, flush=True)


def greedy_search(
    candidates_fn: Callable[[list[FeatureEdit]], list[int | FeatureEdit]],
    objective_fn: Callable[[list[FeatureEdit]], float],
    cost_fn: Callable[[list[FeatureEdit]], float],
    cfg: SearchConfig | None = None,
    checkpoint: str | Path | None = None,
) -> SearchResult:
    """candidates_fn(recipe) -> features (or whole edits) ranked by attribution under the recipe;
    objective_fn(recipe) -> the value to raise (e.g. mean recovery); cost_fn(recipe) -> KL.

    With a `checkpoint` file, every accepted step is saved there (atomically), and a search
    started again with the same config continues after the last saved step."""
    cfg = cfg or SearchConfig()
    recipe, steps, finished = _resume(checkpoint, cfg)
    current = steps[-1]["objective"] if steps else objective_fn(recipe)
    if finished:  # the saved search ran to its end: its result, not another try
        return SearchResult(recipe, current, steps, finished)
    stopped = f"reached {cfg.max_features} features"
    while len(recipe) < cfg.max_features:
        used = {e.feature for e in recipe}
        cands = [
            c if isinstance(c, FeatureEdit) else FeatureEdit(int(c), cfg.mode, 0.0, cfg.where)
            for c in candidates_fn(recipe)
        ]
        cands = [c for c in cands if c.feature not in used][: cfg.candidates]
        if not cands:
            stopped = "no candidate left"
            break
        tried = []
        for c in cands:
            edits = [*recipe, c]
            tried.append((objective_fn(edits), c.feature, edits))
        tried.sort(key=lambda t: -t[0])
        accepted = None
        for value, f, edits in tried:
            if value - current < cfg.min_gain:
                break
            kl = cost_fn(edits)
            if kl <= cfg.max_kl:
                accepted = (value, f, edits, kl)
                break
            _log(f"#{f}: objective {value:.3f} but KL {kl:.4f} over budget")
        if accepted is None:
            stopped = "no candidate gains enough within the KL budget"
            break
        value, f, edits, kl = accepted
        _log(f"step {len(recipe) + 1}: +#{f} objective {current:.3f} -> {value:.3f}, KL {kl:.4f}")
        steps.append(
            {
                "feature": f,
                "objective": value,
                "gain": value - current,
                "kl": kl,
                "mode": edits[-1].mode,
                "value": edits[-1].value,
                "candidates": [
                    {"feature": c, "mode": e[-1].mode, "value": e[-1].value, "objective": v}
                    for v, c, e in tried
                ],
            }
        )
        recipe, current = edits, value
        if checkpoint is not None:
            _save(checkpoint, cfg, recipe, steps)
    if not recipe:
        stopped = f"no candidate helps ({stopped})"
    if checkpoint is not None:
        _save(checkpoint, cfg, recipe, steps, stopped)
    return SearchResult(recipe, current, steps, stopped)


def _save(path, cfg: SearchConfig, recipe, steps: list[dict], stopped: str = "") -> None:
    from core.atomic import write_text_atomic

    data = {"config": asdict(cfg), "edits": [asdict(e) for e in recipe], "steps": steps,
            "stopped": stopped}  # fmt: skip
    write_text_atomic(Path(path), json.dumps(data, indent=1))


def _resume(path, cfg: SearchConfig) -> tuple[list[FeatureEdit], list[dict], str]:
    """The recipe, steps and (if it ended) why a saved search stopped; nothing when there is
    none, and an error when it was made with another config (its steps are not this search's)."""
    if path is None or not Path(path).exists():
        return [], [], ""
    try:
        data = json.loads(Path(path).read_text())
        edits = [FeatureEdit(**e) for e in data["edits"]]
        steps, saved, stopped = list(data["steps"]), data["config"], str(data.get("stopped", ""))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BadInputError(f"{path}: not a recipe-search checkpoint ({err}); remove it") from err
    if saved != asdict(cfg):
        raise BadInputError(
            f"{path} holds a search with another config ({saved}); remove it to start over"
        )
    _log(f"resuming after step {len(edits)} from {path}")
    return edits, steps, stopped
