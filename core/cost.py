"""What an intervention costs on ordinary text: KL of the next-token distribution and CE.

cost = next_token_cost(subject, control_texts(), intervention)            # vs the subject
cost = next_token_cost(organism, texts, iv, reference=base_model)         # vs another model
print(cost.kl, cost.ce_increase_pct)
"""

from dataclasses import asdict, dataclass

import torch

from core.errors import BadInputError


@dataclass(frozen=True)
class NextTokenCost:
    kl: float
    """Mean KL(reference || steered) per token, nats."""
    ce_base: float
    """Cross-entropy of the real next token under the reference, nats/token."""
    ce_steered: float
    ce_increase: float
    ce_increase_pct: float
    n_tokens: int

    def to_json(self) -> dict:
        return asdict(self)


@torch.no_grad()
def kl_and_ce(
    tokenizer, device, texts: list[str], logits_p, logits_q, batch_size: int = 8, max_len: int = 256
) -> dict:
    """KL(p || q) per token and CE of the real next token under p and q, on raw text.

    logits_p / logits_q: (input_ids, attention_mask) -> logits [b, pos, vocab]. Every position
    but the last is scored; padding (right side) is left out.
    """
    if not texts:
        raise BadInputError("no control text to measure the capability cost on")
    if tokenizer.padding_side == "left":
        raise BadInputError("KL/CE on control text needs a right-padding tokenizer")
    kl_sum = ce_p = ce_q = 0.0
    n_tok = 0
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            texts[start : start + batch_size],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=max_len,
        )
        ids = enc["input_ids"].to(device)  # [b, pos]
        mask = enc["attention_mask"].to(device)
        logp = logits_p(ids, mask).float()[:, :-1].log_softmax(-1)  # [b, pos-1, vocab]
        logq = logits_q(ids, mask).float()[:, :-1].log_softmax(-1)
        target = ids[:, 1:].unsqueeze(-1)
        keep = (mask[:, 1:] * mask[:, :-1]).bool()  # [b, pos-1]
        kl_sum += float((logp.exp() * (logp - logq)).sum(-1)[keep].sum())
        ce_p -= float(logp.gather(-1, target).squeeze(-1)[keep].sum())
        ce_q -= float(logq.gather(-1, target).squeeze(-1)[keep].sum())
        n_tok += int(keep.sum())
    return {"kl": kl_sum / n_tok, "ce_p": ce_p / n_tok, "ce_q": ce_q / n_tok, "n_tokens": n_tok}


def next_token_cost(
    subject,
    texts: list[str],
    intervention,
    reference=None,
    batch_size: int = 8,
    max_len: int = 256,
) -> NextTokenCost:
    """KL(reference || subject under the intervention) per token and CE of the real next token.
    The reference is the subject itself unless another model (same tokenizer) is given."""
    ref = reference or subject

    def base(ids, mask):
        return ref.model(input_ids=ids.to(ref.device), attention_mask=mask.to(ref.device)).logits

    def steered(ids, mask):
        zeros = torch.zeros(ids.shape[0], dtype=torch.long)  # control text: all "generated"
        with intervention.context(subject, zeros):
            return subject.model(input_ids=ids, attention_mask=mask).logits

    out = kl_and_ce(subject.tokenizer, subject.device, texts, base, steered, batch_size, max_len)
    ce_b, ce_s = out["ce_p"], out["ce_q"]
    return NextTokenCost(
        kl=out["kl"],
        ce_base=ce_b,
        ce_steered=ce_s,
        ce_increase=ce_s - ce_b,
        ce_increase_pct=100.0 * (ce_s - ce_b) / ce_b,
        n_tokens=out["n_tokens"],
    )
