"""Teacher-forced log-likelihood of an answer given its prompt, optionally under an intervention.

The one routine behind the reference-model NLL (word salad has a high NLL under an unsteered
model) and the organism's recovery metric (how likely the base model's honest answer becomes).

    scores = answer_logprobs(subject, [("What happened in 1989?", "Protests were crushed.")])
    print(scores[0].total, scores[0].mean_nll)
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class AnswerScore:
    total: float
    """Sum of log p(answer token | prefix), nats."""
    n_tokens: int

    @property
    def mean_nll(self) -> float:
        return -self.total / self.n_tokens if self.n_tokens else float("inf")


@torch.no_grad()
def answer_logprobs(
    subject,
    pairs: list[tuple[str, str]],
    intervention=None,
    batch_size: int = 16,
    max_answer_tokens: int = 256,
) -> list[AnswerScore]:
    """Score each (prompt, answer): the answer's tokens after the chat-formatted prompt.
    Under an intervention, the answer positions count as generated, the prompt's as prompt."""
    from contextlib import nullcontext

    tok = subject.tokenizer
    out: list[AnswerScore] = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        seqs, spans = [], []
        for prompt, answer in chunk:
            head = tok(subject.chat_text(prompt), add_special_tokens=False)["input_ids"]
            body = tok(answer, add_special_tokens=False)["input_ids"][:max_answer_tokens]
            seqs.append(head + body)
            spans.append((len(head), len(head) + len(body)))
        width = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), width), tok.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, x in enumerate(seqs):
            ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        lengths = torch.tensor([a for a, _ in spans])
        ctx = intervention.context(subject, lengths) if intervention is not None else nullcontext()
        with ctx:
            logits = subject.model(
                input_ids=ids.to(subject.device), attention_mask=mask.to(subject.device)
            ).logits  # [b, pos, vocab]
        for i, (a, b) in enumerate(spans):
            if b <= a:
                out.append(AnswerScore(0.0, 0))
                continue
            logp = logits[i, a - 1 : b - 1].float().log_softmax(-1)  # [answer, vocab]: answer only
            tgt = ids[i, a:b].to(logp.device)
            out.append(AnswerScore(float(logp.gather(-1, tgt[:, None]).sum()), b - a))
    return out


def answer_nll(subject, rows: list[dict], batch_size: int = 16) -> list[float]:
    """Mean NLL per answer token of each row's `answer` given its `prompt`, unsteered."""
    pairs = [(r["prompt"], r["answer"]) for r in rows]
    return [s.mean_nll for s in answer_logprobs(subject, pairs, batch_size=batch_size)]


def reference_nll(subject):
    """A `reference_nll` function for core.judge_offline.OfflineJudge: (prompt, answer) pairs ->
    mean NLL under `subject`, which catches fluent-looking word salad."""

    def score(pairs: list[tuple[str, str]]) -> list[float]:
        return [s.mean_nll for s in answer_logprobs(subject, pairs)]

    return score
