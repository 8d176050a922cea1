"""The app's one piece of global state: the loaded subject model and SAE (plus lazy helpers).

Everything per user (the last inspect result, the recipe) lives in gr.State or in components.
The SAE can be swapped while the app runs (Admin tab); the swap waits for the model lock, so a
generation in flight finishes on the SAE it started with.

    from ui import runtime; runtime.set_runtime(subject, sae, settings)
"""

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import CensorscopeError
from core.generate import model_lock
from core.model import EMBEDDED_SOURCE, ORGANISM_SOURCE, load_subject
from core.paths import public_path
from core.sae import REGISTRY_PREFIX, load_sae
from core.settings import AppSettings
from core.splice import release_persistent


class NotAvailable(CensorscopeError):
    """A part of the app whose data or code is missing here; the UI shows the reason."""


@dataclass
class Runtime:
    subject: object
    sae: object
    settings: AppSettings = field(default_factory=AppSettings)
    _judge: object | None = None
    _judge_error: str | None = None
    _store: object | None = None
    _base: object | None = None

    @property
    def lock(self) -> threading.Lock:
        return model_lock(self.subject)

    @property
    def sae_dir(self) -> Path | None:
        path = Path(str(self.sae.path))
        return path if path.is_dir() else None

    @property
    def sae_public(self) -> str:
        """The SAE's source as users may see it (no server paths): registry id or relative path."""
        spec = str(self.sae.path)
        return spec if spec.startswith(REGISTRY_PREFIX) else public_path(spec)

    def header(self) -> str:
        sae = self.sae
        labels = len(sae.labels())
        path = Path(str(sae.path))
        name = f"{path.parent.name}/{path.name}" if path.name == "sae" else path.name
        return (
            f"Subject **{self.subject.name}** · SAE `{name}` at "
            f"`{sae.hook_name}` · {sae.d_sae:,} features"
            + (f" ({labels:,} labelled)" if labels else "")
            + f" · device `{self.subject.device}`"
        )

    def switch_sae(self, spec: str) -> str:
        """Load the SAE at `spec` (checked against the subject), then swap it in under the lock.

        The old SAE's persistent steering hook (compiled decoding on a GPU) is removed from the
        model too; otherwise it would keep every SAE ever switched away from in memory.
        """
        new = load_sae(spec, self.subject)
        with self.lock:
            old, self.sae = self.sae, new
            release_persistent(self.subject, old)
        return f"switched SAE: {old.path} -> {new.path} ({new.d_sae:,} features at {new.hook_name})"

    @property
    def has_base(self) -> bool:
        """The organism has a base model (no LoRA) worth showing beside it."""
        return getattr(self.subject, "source", None) == ORGANISM_SOURCE

    def base_subject(self):
        """The organism's base model (the embedded model without the LoRA), loaded on first use."""
        if not self.has_base:
            raise NotAvailable(
                "the base-model answer is shown for the organism (--model organism), whose base "
                "is the embedded model"
            )
        with _BASE_LOCK:
            if self._base is None:
                self._base = load_subject(EMBEDDED_SOURCE, device=str(self.subject.device))
        return self._base

    def judge(self):
        """The offline judge (no network), loaded on first use; NotAvailable when it cannot load."""
        with _JUDGE_LOCK:
            if self._judge is None and self._judge_error is None:
                try:
                    from core.judge import make_judge

                    self._judge = make_judge("offline")
                except Exception as err:  # a missing wheel or exemplar file: the app keeps serving
                    self._judge_error = f"{type(err).__name__}: {err}"
        if self._judge is None:
            raise NotAvailable(f"judge not available: {self._judge_error}")
        return self._judge

    def warm_up(self) -> None:
        """Load the judge ahead of the first Generate (run in a background thread at launch)."""
        with contextlib.suppress(NotAvailable):
            self.judge()

    def store(self):
        """The chroma store (embedded or CHROMA_URL), opened on first use.

        Reopened when a build (from Admin or the CLI) has written the embedded store since:
        chromadb's client would keep serving the index it loaded before.
        """
        with _STORE_LOCK:
            if self._store is not None and self._store.changed_on_disk():
                self._store = None
            if self._store is None:
                try:
                    from core.store import open_store
                except ImportError as err:
                    raise NotAvailable(f"the dataset store cannot be imported ({err})") from err
                self._store = open_store(url=self.settings.chroma_url, fresh=True)
            return self._store


RUNTIME: Runtime | None = None
_JUDGE_LOCK = threading.Lock()
_BASE_LOCK = threading.Lock()
_STORE_LOCK = threading.Lock()


def set_runtime(subject, sae, settings: AppSettings | None = None) -> Runtime:
    global RUNTIME
    RUNTIME = Runtime(subject=subject, sae=sae, settings=settings or AppSettings())
    return RUNTIME


def get() -> Runtime:
    if RUNTIME is None:
        raise RuntimeError("the app's model is not loaded; call ui.runtime.set_runtime first")
    return RUNTIME
