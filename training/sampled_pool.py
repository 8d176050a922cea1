"""Text the subject writes itself: a last top-up pool for latents too rare to score.

A latent that fires a handful of times in all the text we hold (the dashboard's sources and the
SAE's own training windows) cannot be scored on texts its label was not made from. Here the
subject samples new text, and only the texts in which such a latent fires are kept, with their
exact token ids, for the dashboard's top-up (`python -m training dashboard --extra-pool FILE`),
which checks every one of them again and adds those still needed.

Each text starts from the chat template's first token or from the token that ends a turn, and
no token stops it, so one text may run through several turns, as a packed training window does.
Which latents are short comes from the SAE's card (its labels' firings per half), the same rule
as the top-up's (training/rare_records.py), counting one text once per side it fires on.

    python -m training sample-pool --sae assets/organism/sae --tokens 8000000 --device cuda

The kept texts go to FILE (JSON lines) and the run's config and progress beside it
(FILE.config.json): a run stopped part way resumes at its next batch, with the same draws, and
a larger --tokens samples on where the last run stopped.
"""

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.atomic import write_text_atomic
from core.errors import BadInputError
from training.annotated import Record, split_of

SOURCE = "sampled"


@dataclass
class SampleConfig:
    sae: str
    """The SAE folder whose short latents the texts are kept for."""
    out: str
    """JSON lines of kept texts; its config and progress go to `<out>.config.json`."""
    subject: str | None = None
    """The subject that writes; None: the one the SAE's card names."""
    tokens: int = 8_000_000
    """Tokens to sample in all (whole batches)."""
    length: int = 192
    """Tokens per text, its first included (the dashboard's record length)."""
    batch: int = 512
    temperature: float = 1.0
    need: int = 8
    """As the top-up's: a latent is short until it fires in `need` texts, half on each side."""
    seed: int = 0
    device: str | None = None
    dtype: str = "float32"
    """The check's: as the dashboard's CPU pass computes, so a latent at its TopK threshold falls
    the same way."""
    write_dtype: str | None = None
    """The dtype the subject writes in; None: `dtype`. Writing is bound by per-step overhead, so
    the batch sets the speed; bfloat16 halves the writer's memory and so lets the batch grow
    (benchmarks/results/sample_pool_speed.json). Every text is still checked at `dtype`, and
    again on the CPU by the top-up."""
    check_rows: int = 512
    """Texts checked at once (the check's memory grows with rows x length x latents)."""

    @property
    def n_batches(self) -> int:
        return max(1, -(-self.tokens // (self.batch * self.length)))


def config_path(out: str | Path) -> Path:
    return Path(str(out) + ".config.json")


def card_counts(card: dict, d_sae: int) -> np.ndarray:
    """[2, d_sae] firings per half (explain, held out) from the card's offline labels; a latent
    with no label fired nowhere. Firings are tokens, so a count may be above the number of texts
    the top-up would count: these texts are a superset of what it needs only for the rarest."""
    counts = np.zeros((2, d_sae), np.int64)
    for f, lab in (card.get("label_details") or {}).items():
        seen = lab.get("firings") or {}
        counts[0, int(f)] = int(seen.get("explain", 0))
        counts[1, int(f)] = int(seen.get("heldout", 0))
    return counts


def start_tokens(tokenizer, chat_text) -> list[int]:
    """The token a chat-formatted text begins with, and the one a turn ends with (the sink a
    plain-text record begins with); one where they are the same."""
    first = tokenizer(chat_text("x"), add_special_tokens=False)["input_ids"][0]
    out = [int(first)]
    if tokenizer.eos_token_id is not None and int(tokenizer.eos_token_id) != out[0]:
        out.append(int(tokenizer.eos_token_id))
    return out


@torch.no_grad()
def sample_texts(model, starts: torch.Tensor, length: int, temperature: float, generator):
    """[B, length] token ids: each row its start token, then `length - 1` tokens sampled at
    `temperature` with the KV cache; no token ends a row early."""
    ids = starts.view(-1, 1)
    out = model(input_ids=ids, use_cache=True)
    rows = [ids]
    for _ in range(length - 1):
        logits = out.logits[:, -1].float() / max(temperature, 1e-6)
        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        rows.append(nxt)
        out = model(input_ids=nxt, past_key_values=out.past_key_values, use_cache=True)
    return torch.cat(rows, 1)


def sampled_record(ids: list[int], text: str, model: str) -> Record:
    """A sampled text as a record with its exact ids (counted as a training window is: after its
    first token, special tokens and repeated prefixes aside, naming no region)."""
    meta = {"source": SOURCE, "kind": SOURCE, "model": model, "split": split_of(text)}
    return Record(None, text, meta, ids=tuple(int(i) for i in ids))


def read_pool(path: str | Path) -> list[Record]:
    """The kept texts of a sample-pool run, as records for the dashboard's top-up pool."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no sampled pool at {path}: run python -m training sample-pool")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(sampled_record(row["ids"], row["text"], row["model"]))
        except (ValueError, KeyError, TypeError) as err:
            raise BadInputError(f"{path}, line {n}: not a sampled text ({err})") from err
    return out


def _fired(sae, subject, ids: torch.Tensor, regions: np.ndarray, wanted: torch.Tensor, rows: int):
    """Per row, the wanted latents that fire on its counted tokens (`rows` texts at a time)."""
    from core.splice import residual_at

    counted_all = torch.from_numpy(regions.reshape(ids.shape) > 0)
    out = []
    for lo in range(0, len(ids), max(1, rows)):
        h = residual_at(subject, sae.hook_name, ids[lo : lo + rows])
        acts = sae.encode(h.float().to(sae.W_dec.device))[..., wanted.to(sae.W_dec.device)]
        counted = counted_all[lo : lo + rows].to(acts.device)
        hit = ((acts > 0) & counted[..., None]).any(1).cpu()  # [rows, n_wanted]
        out += [wanted[row.nonzero().flatten()].tolist() for row in hit]
    return out


def _line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def _draws(config: dict) -> dict:
    """The settings a run's texts depend on: a resumed run may sample more, on another device, or
    check fewer rows at once. A setting a run's config lacks (written before it existed) counts as
    its default."""
    defaults = {f.name: f.default for f in dataclasses.fields(SampleConfig)}
    config = {**{k: v for k, v in defaults.items() if k not in config}, **config}
    return {k: v for k, v in config.items() if k not in ("tokens", "device", "check_rows")}


def _resume(cfg: SampleConfig, counts: np.ndarray, seen: set, tokenizer, chat_text) -> int:
    """Batches already done, with the kept texts' counts and prefixes put back."""
    from training.dashboard import encode_records

    cpath, out = config_path(cfg.out), Path(cfg.out)
    if not cpath.exists() or not out.exists():
        return 0
    state = json.loads(cpath.read_text())
    if _draws(state.get("config") or {}) != _draws(dataclasses.asdict(cfg)):
        raise BadInputError(
            f"{out} was sampled with other settings ({cpath}); delete both or pass the same ones"
        )
    done = int(state.get("batches_done", 0))
    rows = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r["batch"] < done]  # a batch cut off mid-write is drawn again
    write_text_atomic(out, "".join(_line(r) for r in rows))
    for r in rows:
        side = int(split_of(r["text"]) == "heldout")
        for f in r["fires"]:
            counts[side, f] += 1
    recs = [sampled_record(r["ids"], r["text"], r["model"]) for r in rows]
    encode_records(tokenizer, chat_text, recs, cfg.length, seen)
    return done


def sample_pool(cfg: SampleConfig) -> dict:
    """Sample, keep the texts a short latent fires in, write them; returns the run's report."""
    from core.dashboard import read_card
    from core.model import load_subject
    from core.sae import load_sae
    from training.dashboard import encode_records
    from training.rare_records import short_latents

    card = read_card(cfg.sae)
    source = cfg.subject or card.get("subject", {}).get("source")
    if not source:
        raise BadInputError(f"{cfg.sae} does not name its subject; pass --subject")
    if cfg.length < 2 or cfg.batch < 1 or cfg.tokens < 1:
        raise BadInputError("length must be at least 2, batch and tokens at least 1")
    for name in (cfg.dtype, cfg.write_dtype):
        if name is not None and not isinstance(getattr(torch, str(name), None), torch.dtype):
            raise BadInputError(f"{name!r} is no torch dtype: use float32, bfloat16 or float16")
    subject = load_subject(source, device=cfg.device, dtype=cfg.dtype)
    writer = subject
    if cfg.write_dtype and getattr(torch, cfg.write_dtype) != subject.dtype:
        writer = load_subject(source, device=cfg.device, dtype=cfg.write_dtype)
    sae = load_sae(cfg.sae, subject)
    tok = subject.tokenizer
    at_start = card_counts(card, sae.d_sae)
    counts = at_start.copy()
    seen: set = set()
    done = _resume(cfg, counts, seen, tok, subject.chat_text)
    starts = torch.tensor(start_tokens(tok, subject.chat_text), device=subject.device)
    gen = torch.Generator(device=subject.device)
    short_at_start = int(short_latents(at_start, cfg.need).any(0).sum())
    t0, kept_now = time.time(), 0
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    with open(cfg.out, "a") as fh:
        for b in range(done, cfg.n_batches):
            short = short_latents(counts, cfg.need)
            wanted = torch.from_numpy(np.flatnonzero(short.any(0)))
            if len(wanted) == 0:
                break
            gen.manual_seed(cfg.seed * 1_000_003 + b)
            row_starts = starts[torch.arange(cfg.batch, device=starts.device) % len(starts)]
            ids = sample_texts(writer.model, row_starts, cfg.length, cfg.temperature, gen)
            ids_list = ids.cpu().tolist()
            texts = tok.batch_decode(ids_list)
            recs = [sampled_record(i, t, source) for i, t in zip(ids_list, texts, strict=True)]
            _, _, regions = encode_records(tok, subject.chat_text, recs, cfg.length, set(seen))
            kept = []
            hits = _fired(sae, subject, ids, regions, wanted, cfg.check_rows)
            for rec, fired in zip(recs, hits, strict=True):
                side = int(rec.meta["split"] == "heldout")
                if any(short[side, f] for f in fired):
                    counts[side, fired] += 1
                    short = short_latents(counts, cfg.need)
                    kept.append((rec, fired))
            encode_records(tok, subject.chat_text, [r for r, _ in kept], cfg.length, seen)
            for rec, fired in kept:
                row = {"batch": b, "model": source, "split": rec.meta["split"], "fires": fired,
                       "text": rec.text, "ids": list(rec.ids)}  # fmt: skip
                fh.write(_line(row))
            fh.flush()
            kept_now += len(kept)
            state = {"config": dataclasses.asdict(cfg), "batches_done": b + 1}
            write_text_atomic(config_path(cfg.out), json.dumps(state, indent=1))
            still = int(short_latents(counts, cfg.need).any(0).sum())
            rate = (b + 1 - done) * cfg.batch * cfg.length / max(time.time() - t0, 1e-9)
            print(f"sample-pool: batch {b + 1}/{cfg.n_batches}, kept {len(kept)} "
                  f"({kept_now} this run), {still} latents still short, {rate:,.0f} tokens/s",
                  file=sys.stderr, flush=True)  # fmt: skip
    state = json.loads(config_path(cfg.out).read_text()) if config_path(cfg.out).exists() else {}
    n_done = int(state.get("batches_done", done))
    kept_all = sum(1 for x in Path(cfg.out).read_text().splitlines() if x.strip())
    report = {
        "subject": source,
        "sampled_tokens": n_done * cfg.batch * cfg.length,
        "kept_texts": kept_all,
        "short_at_start": short_at_start,
        "short_after": int(short_latents(counts, cfg.need).any(0).sum()),
        "seconds_this_run": round(time.time() - t0, 1),
    }
    state.update({"config": dataclasses.asdict(cfg), "batches_done": n_done, "report": report})
    write_text_atomic(config_path(cfg.out), json.dumps(state, indent=1))
    return report
