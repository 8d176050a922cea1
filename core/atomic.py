"""Write a folder or file beside its target, then rename it in: readers see old or new, never half.

A crash mid-write leaves only a `<name>.staging` folder (removed by the next write, and refused
by loaders), never a half-written target. Replacing an existing folder takes two renames; the
moment between them is the only time the target is missing.

    with staged_dir(folder) as stage:
        (stage / "cfg.json").write_text(...)     # folder appears complete, or not at all
    write_text_atomic(path, text)
"""

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING = ".staging"
OLD = ".old"
TRANSIENT_SUFFIXES = (STAGING, OLD, ".partial", ".tmp")
"""Names of folders a writer has not finished (.partial and .tmp: what older versions left)."""


@contextmanager
def staged_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder beside `target`; on a clean exit it replaces `target`.

    On any error the staging folder is removed and `target` is left as it was.
    """
    target = Path(target)
    stage = target.with_name(target.name + STAGING)
    shutil.rmtree(stage, ignore_errors=True)  # left by a writer that crashed
    stage.mkdir(parents=True)
    try:
        yield stage
        swap_in(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def swap_in(stage: Path, target: Path) -> None:
    """Replace `target` by the finished folder `stage` with renames only."""
    if target.exists():
        old = target.with_name(target.name + OLD)
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        stage.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        stage.rename(target)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temporary file and one rename (os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")  # one per writer
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
