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
