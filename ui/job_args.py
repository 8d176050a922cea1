"""What an admin may pass to a background job: an allowlist of flags, paths kept in the data folder.

The Admin tab's argument box reaches a process on the server, so it is not a shell: every flag
must be on the job kind's list below, every path must resolve (symlinks followed) inside the data
folder, and the values must make a valid config before the job starts. Flags that would send the
server's API key elsewhere (`--api-base-url`, `--api-key-env`), point the job at another store
(`--chroma-*`) or pass raw settings through (`--extra`) are not on the lists. No gradio here.

    from ui.job_args import checked_job_args
    argv = checked_job_args("build", ["--offline", "--limit", "200"])
"""

import argparse
import contextlib
import io
import re
from pathlib import Path
from typing import Literal

from core.errors import BadInputError
from core.paths import REPO_ROOT, data_dir

JOB_KINDS = {"train": "SAE training run", "build": "dataset build"}

Kind = Literal["switch", "value", "read", "write", "model", "name"]
"""switch: no value · value: checked by the config · read: a file or folder the job reads ·
write: a folder the job writes (and replaces) · model: a named model or a model folder · name:
a run name (becomes a folder name)."""

_TRAIN_VALUES = [
    "layer",
    "d-sae",
    "expansion",
    "k",
    "tokens",
    "context-size",
    "train-batch-tokens",
    "store-batch-prompts",
    "n-batches-in-buffer",
    "lr",
    "lr-warmup-steps",
    "lr-end-ratio",
    "aux-loss-coefficient",
    "dead-feature-window",
    "feature-sampling-window",
    "normalize-activations",
    "control-fraction",
    "heldout-fraction",
    "answers",
    "max-texts",
    "seed",
    "device",
    "dtype",
    "log-every",
    "eval-every",
    "eval-batches",
    "final-eval-batches",
    "n-checkpoints",
    "dashboard-tokens",
]
_TRAIN_SWITCHES = ["exclude-special-tokens", "autocast", "autocast-lm", "compile-sae"]
ALLOWED: dict[str, dict[str, Kind]] = {
    "train": {
        "--preset": "value",
        "--fresh": "switch",
        "--check": "switch",
        "--json": "switch",
        **{f"--{name}": "value" for name in _TRAIN_VALUES},
        **{f"--{p}{name}": "switch" for name in _TRAIN_SWITCHES for p in ("", "no-")},
        "--subject": "model",
        "--dataset": "read",
        "--control": "read",
        "--run-dir": "write",
        "--output": "write",
        "--name": "name",
    },
    "build": {
        "--offline": "switch",
        "--rejudge": "switch",
        "--json": "switch",
        **{
            f"--{name}": "value"
            for name in [
                "limit",
                "generator",
                "prompts-per-topic",
                "generator-model",
                "judge",
                "judge-model",
                "api-retries",
                "api-backoff-s",
                "dedupe-threshold",
                "batch-size",
                "max-new-tokens",
                "temperature",
                "seed",
                "control-tokens",
                "threads",
            ]
        },
        "--model": "model",
        "--prompt-file": "read",
        "--topics-file": "read",
        "--control-source": "read",
    },
}
NAMED_VALUES = {
    "--subject": ("embedded", "organism", "tiny"),
    "--model": ("embedded", "organism", "tiny"),
    "--dataset": ("builder",),
    "--control": ("builder",),
    "--control-source": ("auto", "builtin", "slimpajama"),
}
_NUMBER = re.compile(r"-\d+(\.\d*)?(e-?\d+)?", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def runs_dir() -> Path:
    """Where admin-started training runs may write: data/runs."""
    return data_dir() / "runs"


def inside(path: str, root: Path, flag: str, where: str = "the data folder") -> str:
    """`path` resolved (relative to the job's working folder, symlinks followed), if under `root`."""
    if "\x00" in path:
        raise BadInputError(f"{flag}: the path contains a NUL character")
    raw = Path(path).expanduser()
    resolved = (raw if raw.is_absolute() else REPO_ROOT / raw).resolve()
    top = root.resolve()
    if resolved != top and not resolved.is_relative_to(top):
        raise BadInputError(f"{flag} {path}: admin jobs may only use paths inside {where} ({top})")
    return str(resolved)


def _check_value(flag: str, kind: Kind, value: str) -> str:
    if value in NAMED_VALUES.get(flag, ()):
        return value
    if kind == "read":
        return inside(value, data_dir(), flag)
    if kind == "write":
        target = inside(value, runs_dir(), flag, "the data folder's runs/")
        if Path(target) == runs_dir().resolve():
            raise BadInputError(
                f"{flag} must name a folder inside the data folder's runs/, not runs/ itself"
            )
        return target
    if kind == "model":
        named = ", ".join(NAMED_VALUES[flag])
        if Path(value).suffix == ".gguf" or "/" in value or value.startswith((".", "~")):
            return inside(value, data_dir(), flag)
        raise BadInputError(f"{flag} must be {named} or a model folder inside the data folder")
    if kind == "name" and not _NAME.fullmatch(value):
        raise BadInputError(
            f"{flag} must be letters, digits, '.', '_' or '-' (at most 64), got {value!r}"
        )
    return value


def allowlisted(kind: str, argv: list[str]) -> list[str]:
    """argv with every flag checked against the allowlist and every path made absolute."""
    if kind not in ALLOWED:
        raise BadInputError(f"job kind must be one of {', '.join(ALLOWED)}, got {kind!r}")
    allowed = ALLOWED[kind]
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        flag, eq, inline = token.partition("=")
        if flag not in allowed:
            what = "argument" if not token.startswith("-") else "flag"
            raise BadInputError(
                f"the {what} {flag!r} is not allowed for an admin {JOB_KINDS[kind]}; allowed: "
                + " ".join(sorted(allowed))
            )
        flag_kind = allowed[flag]
        if flag_kind == "switch":
            if eq:
                raise BadInputError(f"{flag} takes no value")
            out.append(flag)
            i += 1
            continue
        if eq:
            value = inline
        elif i + 1 < len(argv):
            value, i = argv[i + 1], i + 1
        else:
            raise BadInputError(f"{flag} needs a value")
        if value.startswith("-") and not _NUMBER.fullmatch(value):
            raise BadInputError(f"{flag} needs a value, got the flag {value!r}")
        out += [flag, _check_value(flag, flag_kind, value)]
        i += 1
    return out


def parse_job_args(kind: str, argv: list[str]) -> argparse.Namespace:
    """Parse the job's arguments with its own CLI parser now, so a typo fails here, clearly."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            if kind == "train":
                from training.__main__ import build_parser

                return build_parser().parse_args(["train", *argv])
            from data_builder.__main__ import parse

            return parse(["build", *argv])
    except SystemExit as exit_:
        lines = err.getvalue().strip().splitlines()
        reason = lines[-1] if lines else f"exit {exit_.code}"
        raise BadInputError(f"bad arguments for the {JOB_KINDS[kind]}: {reason}") from None


def check_config(kind: str, args: argparse.Namespace) -> None:
    """Build the job's config from the parsed arguments: bad values fail now, not in the job."""
    try:
        if kind == "train":
            from training.__main__ import config_from_args

            config_from_args(args)
            return
        import dataclasses

        from data_builder.config import BuildConfig

        names = {f.name for f in dataclasses.fields(BuildConfig)}
        BuildConfig(**{k: v for k, v in vars(args).items() if k in names})
    except BadInputError as err:
        raise BadInputError(f"bad arguments for the {JOB_KINDS[kind]}: {err}") from None
    except (TypeError, ValueError) as err:
        raise BadInputError(f"bad arguments for the {JOB_KINDS[kind]}: {err}") from None


def checked_job_args(kind: str, argv: list[str]) -> list[str]:
    """The argv an admin job runs with, or BadInputError saying what is refused and why."""
    safe = allowlisted(kind, argv)
    check_config(kind, parse_job_args(kind, safe))
    return safe
