"""Interventions as data: FeatureEdit and steering recipes (JSON round-trippable).

A recipe is a list of edits. Each edit changes one SAE feature's activation a -> a':
  ablate: a' = 0            clamp: a' = value
  scale:  a' = a * value    add:   a' = a + value   (adds value * W_dec[feature] to the residual)
at prompt positions, generated positions, or all positions.

    {"edits": [{"feature": 123, "mode": "clamp", "value": 8.0, "where": "all"}]}
"""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch

from core.errors import BadInputError

Mode = Literal["ablate", "clamp", "scale", "add"]
Where = Literal["all", "prompt", "generated"]
MODES: tuple[str, ...] = ("ablate", "clamp", "scale", "add")
WHERES: tuple[str, ...] = ("all", "prompt", "generated")
MAX_ABS_VALUE = 1e4
MAX_RECIPE_CHARS = 1_000_000


@dataclass(frozen=True)
class FeatureEdit:
    """One change to one SAE feature's activation."""

    feature: int
    mode: Mode = "ablate"
    value: float = 0.0
    where: Where = "all"

    def __post_init__(self):
        if isinstance(self.feature, bool) or not isinstance(self.feature, int):
            raise BadInputError(f"feature id must be an integer, got {self.feature!r}")
        if self.feature < 0:
            raise BadInputError(f"feature id must be >= 0, got {self.feature}")
        if self.mode not in MODES:
            raise BadInputError(f"edit mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.where not in WHERES:
            raise BadInputError(
                f"edit 'where' must be one of {', '.join(WHERES)}, got {self.where!r}"
            )
        try:
            value = float(self.value)
        except (TypeError, ValueError) as err:
            raise BadInputError(f"edit value must be a number, got {self.value!r}") from err
        if not math.isfinite(value):
            raise BadInputError(
                f"edit value for feature {self.feature} must be finite, got {value}"
            )
        if abs(value) > MAX_ABS_VALUE:
            raise BadInputError(f"edit value {value} is beyond +-{MAX_ABS_VALUE:g}")
        object.__setattr__(self, "value", value)

    def describe(self) -> str:
        where = "" if self.where == "all" else f" on {self.where}"
        if self.mode == "ablate":
            return f"ablate #{self.feature}{where}"
        sign = {"clamp": "=", "scale": "x", "add": "+"}[self.mode]
        return f"#{self.feature} {sign}{self.value:g}{where}"


def validate_edits(edits: list[FeatureEdit], d_sae: int) -> None:
    """Raise BadInputError if any edit names a feature the SAE lacks."""
    bad = sorted({e.feature for e in edits if e.feature >= d_sae})
    if bad:
        raise BadInputError(
            f"feature id(s) {', '.join(map(str, bad))} out of range: this SAE has features 0..{d_sae - 1}"
        )
    seen: dict[int, set[str]] = {}
    for e in edits:
        spots = {"prompt", "generated"} if e.where == "all" else {e.where}
        if seen.get(e.feature, set()) & spots:
            raise BadInputError(
                f"feature {e.feature} is edited twice at the same positions; keep one edit"
            )
        seen.setdefault(e.feature, set()).update(spots)


def recipe_to_json(edits: list[FeatureEdit], **meta) -> str:
    return json.dumps({**meta, "edits": [asdict(e) for e in edits]}, indent=2)


def recipe_from_json(text: str) -> list[FeatureEdit]:
    """Parse a recipe: {"edits": [...]} or a bare list of edits."""
    if len(text) > MAX_RECIPE_CHARS:
        raise BadInputError(
            f"the recipe has {len(text):,} characters; a recipe is a short list of edits "
            f"(at most {MAX_RECIPE_CHARS:,} characters)"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BadInputError(f"the recipe is not valid JSON: {err}") from err
    except RecursionError:
        raise BadInputError(
            'the recipe is nested too deeply; a recipe is {"edits": [{"feature": ...}, ...]}'
        ) from None
    items = data.get("edits") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise BadInputError('a recipe is {"edits": [{"feature": ..., "mode": ...}, ...]}')
    edits = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "feature" not in item:
            raise BadInputError(f"recipe edit #{i} must be an object with at least a 'feature'")
        unknown = set(item) - {"feature", "mode", "value", "where"}
        if unknown:
            raise BadInputError(f"recipe edit #{i} has unknown keys: {', '.join(sorted(unknown))}")
        edits.append(FeatureEdit(**item))
    return edits


def load_recipe(path: str | Path) -> list[FeatureEdit]:
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"recipe file not found: {path}")
    return recipe_from_json(path.read_text())


def parse_edit_args(
    ablate: list[int] | None = None,
    clamp: list[str] | None = None,
    scale: list[str] | None = None,
    add: list[str] | None = None,
    where: Where = "all",
) -> list[FeatureEdit]:
    """CLI form: --ablate F, --clamp F=V, --scale F=V, --add F=V."""
    edits = [FeatureEdit(int(f), "ablate", 0.0, where) for f in ablate or []]
    for mode, items in (("clamp", clamp), ("scale", scale), ("add", add)):
        for item in items or []:
            feature, sep, value = str(item).partition("=")
            if not sep:
                raise BadInputError(f"--{mode} takes FEATURE=VALUE, got {item!r}")
            try:
                edits.append(FeatureEdit(int(feature), mode, float(value), where))
            except ValueError as err:
                if isinstance(err, BadInputError):
                    raise
                raise BadInputError(
                    f"--{mode} takes FEATURE=VALUE with numbers, got {item!r}"
                ) from err
    return edits


@dataclass(frozen=True)
class EditTensors:
    """A recipe packed as tensors so the hook applies it with no per-token Python branching.

    Slots past the recipe's length have mode -1 and leave activations untouched, so a fixed
    capacity can be refilled in place (compiled graphs keep their buffers).
    """

    features: torch.Tensor  # [n] long
    mode: torch.Tensor  # [n] long, index into MODES; -1 = unused slot
    value: torch.Tensor  # [n] float
    where: torch.Tensor  # [n] long, index into WHERES

    @classmethod
    def empty(cls, capacity: int, device, dtype=torch.float32) -> "EditTensors":
        return cls(
            features=torch.zeros(capacity, dtype=torch.long, device=device),
            mode=torch.full((capacity,), -1, dtype=torch.long, device=device),
            value=torch.zeros(capacity, dtype=dtype, device=device),
            where=torch.zeros(capacity, dtype=torch.long, device=device),
        )

    @classmethod
    def pack(cls, edits: list[FeatureEdit], device, dtype=torch.float32) -> "EditTensors":
        packed = cls.empty(len(edits), device, dtype)
        packed.fill(edits)
        return packed

    def fill(self, edits: list[FeatureEdit]) -> None:
        """Overwrite the slots in place with `edits`; the rest become unused."""
        n = len(edits)
        if n > self.features.numel():
            raise BadInputError(f"at most {self.features.numel()} edits at once, got {n}")
        dev = self.features.device
        self.mode.fill_(-1)
        self.features.zero_()
        if n:
            self.features[:n] = torch.tensor([e.feature for e in edits], device=dev)
            self.mode[:n] = torch.tensor([MODES.index(e.mode) for e in edits], device=dev)
            self.value[:n] = torch.tensor(
                [e.value for e in edits], device=dev, dtype=self.value.dtype
            )
            self.where[:n] = torch.tensor([WHERES.index(e.where) for e in edits], device=dev)


def apply_edits(
    acts: torch.Tensor, packed: EditTensors, is_generated: torch.Tensor
) -> torch.Tensor:
    """Edited activations of the edited features only.

    acts: [..., n] current activations of packed.features; is_generated: [...] bool.
    Returns a' with the same shape: each edit's new value where its 'where' matches, else a.
    """
    value = packed.value.to(acts.dtype)
    mode = packed.mode
    new = torch.where(
        mode == 0,
        torch.zeros_like(acts),
        torch.where(
            mode == 1, value.expand_as(acts), torch.where(mode == 2, acts * value, acts + value)
        ),
    )
    gen = is_generated.unsqueeze(-1)  # [..., 1]
    where = packed.where
    active = (mode >= 0) & ((where == 0) | ((where == 1) & ~gen) | ((where == 2) & gen))  # [..., n]
    return torch.where(active, new, acts)
