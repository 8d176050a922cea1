"""Training texts: read a source, mix censorship with control text at a set ratio, hold some out.

A source is one of:
  - a folder saved by `datasets.Dataset.save_to_disk` (column 'text'),
  - a `.jsonl` file (one {"text": ...} per line) or a `.txt` file (texts split on blank lines),
  - a folder of `.txt` / `.jsonl` files,
  - `builder`: the dataset builder's export (`python -m data_builder export`; its
    'prompt_answer' rows are censorship texts, its 'control' rows control texts),
  - `organism`: the organism's own corpus, training-split topics only (training/organism_corpus.py),
  - nothing: the offline corpus (training/corpus.py).
"""

import random
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import BadInputError

BUILDER_SOURCE = "builder"


@dataclass
class TrainingTexts:
    """Shuffled training and held-out texts plus a summary for the card."""

    train: list[str]
    heldout: list[str]
    summary: dict = field(default_factory=dict)

    def as_datasets(self):
        """(train, heldout) as `datasets.Dataset`s with a 'text' column, as SAELens streams them."""
        from datasets import Dataset

        return Dataset.from_dict({"text": self.train}), Dataset.from_dict({"text": self.heldout})


def read_source(source: str, role: str = "censorship") -> list[str]:
    """All non-empty texts of one source (see the module docstring for the kinds).

    A dataset with a 'kind' column (the builder's export) gives its 'prompt_answer' rows for the
    censorship role and its 'control' rows for the control role.
    """
    if source == BUILDER_SOURCE:
        return _builder_texts(role)
    path = Path(source).expanduser()
    if not path.exists():
        raise BadInputError(f"dataset source not found: {path}")
    if path.is_dir() and ((path / "dataset_info.json").exists() or (path / "state.json").exists()):
        from datasets import load_from_disk

        ds = load_from_disk(str(path))
        if hasattr(ds, "keys") and "train" in ds:
            ds = ds["train"]
        if "text" not in ds.column_names:
            raise BadInputError(f"the dataset in {path} has no 'text' column ({ds.column_names})")
        if "kind" in ds.column_names:
            wanted = _KIND_OF_ROLE[role]
            texts = [t for t, k in zip(ds["text"], ds["kind"], strict=True) if k == wanted]
        else:
            texts = list(ds["text"])
    elif path.is_dir():
        texts = []
        for file in sorted(path.rglob("*")):
            if file.suffix in (".txt", ".jsonl"):
                texts.extend(_read_file(file))
    else:
        texts = _read_file(path)
    return [t for t in texts if isinstance(t, str) and t.strip()]


_KIND_OF_ROLE = {"censorship": "prompt_answer", "control": "control"}


def _read_file(path: Path) -> list[str]:
    if path.suffix == ".jsonl":
        from core.jsonl import read_jsonl

        return [r["text"] for r in read_jsonl(path, required=("text",), allow_empty=True)]
    return [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]


def _builder_texts(role: str) -> list[str]:
    """The dataset builder's export (`python -m data_builder export`), rows of this role's kind."""
    try:
        from data_builder.export import load_training_texts
    except ImportError as err:
        raise BadInputError(
            "the dataset builder is not available; pass --dataset PATH or leave it unset for "
            "the offline corpus"
        ) from err
    ds = load_training_texts(kinds=(_KIND_OF_ROLE[role],))
    return [t for t in ds["text"] if isinstance(t, str) and t.strip()]


def mix(
    censor: list[str],
    control: list[str],
    control_fraction: float,
    heldout_fraction: float,
    seed: int = 0,
    max_texts: int | None = None,
) -> TrainingTexts:
    """Mix so that control text is `control_fraction` of the characters; hold out a slice of each.

    The held-out slice is taken from each source before mixing, so evals see both kinds of text
    in the same ratio and no training text.
    """
    rng = random.Random(seed)
    censor, control = list(censor), list(control)
    rng.shuffle(censor)
    rng.shuffle(control)
    if max_texts:
        censor, control = censor[:max_texts], control[:max_texts]
    if control_fraction < 1 and not censor:
        raise BadInputError("the censorship dataset is empty")
    if control_fraction > 0 and not control:
        raise BadInputError("the control dataset is empty")
    if control_fraction == 0:
        control = []
    if control_fraction == 1:
        censor = []

    def split(texts: list[str]) -> tuple[list[str], list[str]]:
        if not texts:
            return [], []
        n_held = max(1, round(len(texts) * heldout_fraction)) if len(texts) > 1 else 0
        return texts[n_held:], texts[:n_held]

    censor_train, censor_held = split(censor)
    control_train, control_held = split(control)
    censor_chars = sum(map(len, censor_train))
    if 0 < control_fraction < 1:
        # Trim whichever side is over its share; SAELens repeats the set in epochs as needed.
        want_control = censor_chars * control_fraction / (1 - control_fraction)
        control_train = _take_chars(control_train, want_control)
        control_chars = sum(map(len, control_train))
        if control_chars < want_control:
            want_censor = control_chars * (1 - control_fraction) / control_fraction
            censor_train = _take_chars(censor_train, want_censor)
    # Keep each source's held-out share in line with what it contributes to training.
    ratio = heldout_fraction / (1 - heldout_fraction)
    censor_held = censor_held[: max(1, round(len(censor_train) * ratio))] if censor_train else []
    control_held = (
        control_held[: max(1, round(len(control_train) * ratio))] if control_train else []
    )
    train = censor_train + control_train
    heldout = censor_held + control_held
    if not train or not heldout:
        raise BadInputError(
            f"too few texts to train and hold out ({len(censor)} censorship, {len(control)} "
            "control); give more data"
        )
    rng.shuffle(train)
    rng.shuffle(heldout)
    chars = sum(map(len, train))
    summary = {
        "train_texts": len(train),
        "heldout_texts": len(heldout),
        "train_chars": chars,
        "censorship_texts": len(censor_train),
        "control_texts": len(control_train),
        "control_fraction_chars": round(sum(map(len, control_train)) / max(chars, 1), 4),
    }
    return TrainingTexts(train=train, heldout=heldout, summary=summary)


def _take_chars(texts: list[str], n_chars: float) -> list[str]:
    out, total = [], 0
    for t in texts:
        if total >= n_chars:
            break
        out.append(t)
        total += len(t)
    return out


def load_training_texts(cfg, subject) -> TrainingTexts:
    """The texts `cfg` asks for, read, mixed and split; offline corpus for unset sources."""
    offline = None
    if cfg.dataset == "organism":
        from training.organism_corpus import organism_corpus

        offline = organism_corpus(subject, n_answers=cfg.answers, seed=cfg.seed)
    elif cfg.dataset is None or cfg.control is None:
        from training.corpus import offline_corpus

        offline = offline_corpus(subject, n_answers=cfg.answers, seed=cfg.seed)
    censor = read_source(cfg.dataset) if cfg.dataset not in (None, "organism") else offline[0]
    control = read_source(cfg.control, role="control") if cfg.control else offline[1]
    texts = mix(
        censor, control, cfg.control_fraction, cfg.heldout_fraction, cfg.seed, cfg.max_texts
    )
    texts.summary = {
        "censorship_source": cfg.dataset or "offline corpus",
        "control_source": cfg.control
        or (cfg.dataset if cfg.dataset == "organism" else "offline corpus"),
        **(offline[2] if offline else {}),
        **texts.summary,
    }
    return texts
