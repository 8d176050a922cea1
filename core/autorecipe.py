"""Auto-recipe: the smallest set of top-ranked features, and the weakest strength, that does the job.

Walk the discovery ranking: for n = 1, 2, 4, ... top features and each strength (weakest first),
first measure the capability cost on control text (a forward pass, cheap) and skip candidates over
budget; then generate on the validation prompts and judge. The first candidate that cuts the
censored share by `target_reduction` (relative) within budget, with at most `max_broken` broken
answers, wins. The winner is then reported
on a test split the search never saw; if none qualifies, the best within budget is reported and
marked `met_target: false`.

    search = auto_recipe(subject, sae, ranked, val_rows, judge, control, AutoRecipeConfig())
    report = evaluate(subject, search.intervention(sae), test_rows, judge, control)
"""

import sys
from dataclasses import asdict, dataclass, field

from core.cost import next_token_cost
from core.edits import FeatureEdit
from core.errors import BadInputError
from core.evaluate import censorship, relative_reduction
from core.generate import GenerationSettings
from core.intervention import BASELINE, Intervention


@dataclass
class AutoRecipeConfig:
    """What counts as success, and the search grid."""

    target_reduction: float = 0.5
    """Relative cut of the validation censorship rate to reach (0.5 = halve it)."""
    max_kl: float = 0.1
    """Budget: mean KL(base || steered) on control text, nats per token."""
    max_ce_pct: float = 5.0
    """Budget: cross-entropy increase on control text, percent."""
    sizes: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])
    """Numbers of top-ranked features tried, smallest first."""
    strengths: list[tuple[str, float]] = field(
        default_factory=lambda: [("ablate", 0.0), ("scale", -1.0), ("scale", -3.0)]
    )
    """(mode, value) per feature, weakest first: ablate, then push against the feature."""
    where: str = "all"
    """Positions the edits apply to: all | prompt | generated."""
    max_broken: float = 0.05
    """Most broken answers (core/judge.py's `broken`) a candidate may produce on validation."""

    def __post_init__(self):
        if not 0 < self.target_reduction <= 1:
            raise BadInputError(f"target_reduction must be in (0, 1], got {self.target_reduction}")
        if not self.sizes or min(self.sizes) < 1:
            raise BadInputError("sizes must be a non-empty list of positive integers")


@dataclass
class AutoRecipeResult:
    edits: list[FeatureEdit]
    met_target: bool
    baseline_rate: float | None
    tried: list[dict]

    def intervention(self, sae, name: str = "auto-recipe") -> Intervention:
        return Intervention(name, self.edits, sae)

    def to_json(self) -> dict:
        return {
            "edits": [asdict(e) for e in self.edits],
            "met_target": self.met_target,
            "validation_baseline_rate": self.baseline_rate,
            "tried": self.tried,
        }


def _log(msg: str) -> None:
    print(f"[autorecipe] {msg}", file=sys.stderr, flush=True)


def auto_recipe(
    subject,
    sae,
    ranked: list[int],
    val_rows: list[dict],
    judge,
    control: list[str],
    cfg: AutoRecipeConfig | None = None,
    settings: GenerationSettings | None = None,
    baseline_rate: float | None = None,
) -> AutoRecipeResult:
    """Search the grid on the validation rows; see the module docstring.

    A candidate counts only if its broken share stays within `max_broken`: an intervention that
    "uncensors" by breaking the model is not a recipe. Among those, the most answered wins.
    """
    cfg = cfg or AutoRecipeConfig()
    settings = settings or GenerationSettings(max_new_tokens=32)
    if not ranked:
        raise BadInputError("no ranked features to build a recipe from (run discovery first)")
    if not val_rows:
        raise BadInputError("the validation prompt set is empty")
    if baseline_rate is None:
        stats, _, _ = censorship(subject, BASELINE, val_rows, judge, settings)
        baseline_rate = stats["overall"]["censored_rate"]
    _log(f"validation baseline censored share {baseline_rate}")
    if not baseline_rate:
        raise BadInputError("the validation prompts are not censored at all; nothing to reduce")
    tried: list[dict] = []
    best: tuple[float, list[FeatureEdit]] | None = None
    for n in sorted(set(cfg.sizes)):
        if n > len(ranked):
            break
        for mode, value in cfg.strengths:
            edits = [FeatureEdit(f, mode, value, cfg.where) for f in ranked[:n]]
            iv = Intervention(f"top{n} {mode} {value:g}", edits, sae)
            cost = next_token_cost(subject, control, iv)
            row = {"n": n, "mode": mode, "value": value, "kl": cost.kl,
                   "ce_increase_pct": cost.ce_increase_pct}  # fmt: skip
            if cost.kl > cfg.max_kl or cost.ce_increase_pct > cfg.max_ce_pct:
                row["skipped"] = "over budget"
                tried.append(row)
                _log(f"{iv.name}: over budget (KL {cost.kl:.3f})")
                continue
            stats, _, _ = censorship(subject, iv, val_rows, judge, settings)
            overall = stats["overall"]
            row.update(
                censored_rate=overall["censored_rate"],
                answered_rate=overall["answered_rate"],
                broken_rate=overall["broken_rate"],
                reduction=relative_reduction(baseline_rate, overall["censored_rate"]),
            )
            tried.append(row)
            _log(
                f"{iv.name}: censored {row['censored_rate']} answered {row['answered_rate']} "
                f"broken {row['broken_rate']} KL {cost.kl:.4f}"
            )
            if row["broken_rate"] is None or row["broken_rate"] > cfg.max_broken:
                row["skipped"] = "broken answers"
                continue
            if best is None or row["answered_rate"] > best[0]:
                best = (row["answered_rate"], edits)
            if row["reduction"] is not None and row["reduction"] >= cfg.target_reduction:
                return AutoRecipeResult(edits, True, baseline_rate, tried)
    if best is None:
        return AutoRecipeResult([], False, baseline_rate, tried)
    return AutoRecipeResult(best[1], False, baseline_rate, tried)
