"""Where censorscope keeps caches and shipped assets."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS = REPO_ROOT / "assets"


def cache_dir() -> Path:
    """Folder for converted models and other re-creatable files (CENSORSCOPE_CACHE overrides)."""
    root = os.environ.get("CENSORSCOPE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "censorscope"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Folder for user data: chroma store, jobs, runs (CENSORSCOPE_DATA overrides)."""
    path = Path(os.environ.get("CENSORSCOPE_DATA") or REPO_ROOT / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def public_path(path: str | os.PathLike) -> str:
    """A path as anonymous users may see it: relative to the repository or the data folder.

    Anything elsewhere shows as its last folder name only; the server's layout stays private.
    """
    resolved = Path(path).expanduser().resolve()
    data = data_dir().resolve()
    if resolved.is_relative_to(data):
        return str(Path("data") / resolved.relative_to(data))
    if resolved.is_relative_to(REPO_ROOT):
        return str(resolved.relative_to(REPO_ROOT))
    return resolved.name


def public_text(text: str, *paths: str | os.PathLike) -> str:
    """`text` with the given paths (and the data and repository folders) written as public_path."""
    roots = [*map(str, paths), str(data_dir()), str(REPO_ROOT)]
    for root in sorted({r for r in roots if r and r != "/"}, key=len, reverse=True):
        text = text.replace(root, public_path(root))
    return text
