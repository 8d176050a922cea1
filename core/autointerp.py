"""LLM auto-interpretation: explain a feature from its contexts, score it by detection.

The protocol is EleutherAI Delphi's (github.com/EleutherAI/delphi), kept small and ours: the
`eai-delphi` package needs vLLM, sparsify and faiss, and caches latents through its own hooks,
none of which fit a 2-core CPU or our SAE splice. An explainer model reads activating windows
with the active tokens marked <<like this>> and answers with `[EXPLANATION]: ...`; a scorer
model then reads held-out windows (as many activating as silent, unmarked) and says for each
whether the explanation applies. Detection accuracy is the fraction it gets right, 0.5 chance:
the same score the offline labels get (core/labels.py), on the same windows.

Any OpenAI-compatible endpoint works (core/llm_client.py).
"""

import json
import re

EXPLAIN_SYSTEM = (
    "You are a meticulous AI researcher studying one feature of a language model's sparse "
    "autoencoder. You get text windows where the feature is active; the tokens it fires on "
    "are marked <<like this>>, with their activation after the window. Describe in one short "
    "phrase what the feature responds to (words, topic, kind of text, e.g. censored replies). "
    "Do not mention the markers. The last line must be `[EXPLANATION]: <your phrase>`."
)
DETECT_SYSTEM = (
    "You are a meticulous linguistics researcher. You get the explanation of a language-model "
    "feature and numbered text examples. For each example return 1 if the feature as explained "
    "would be active in it, else 0. Answer with only a JSON list of 0s and 1s, one per example."
)


def marked(tokens: list[str], acts: list[float]) -> str:
    """A window with its active tokens between << >> and their activations after it."""
    text, fired = "", []
    for tok, a in zip(tokens, acts, strict=True):
        if a > 0:
            text += f"<<{tok}>>"
            fired.append(f"{tok.strip() or repr(tok)}: {a:.2f}")
        else:
            text += tok
    return f"{text}\n(activations: {', '.join(fired)})"


def explain(client, windows: list[tuple[list[str], list[float]]]) -> str:
    """The explainer's one-phrase explanation of a feature from its activating windows."""
    examples = "\n\n".join(f"Example {i + 1}:\n{marked(t, a)}" for i, (t, a) in enumerate(windows))
    reply = client.chat(
        [{"role": "system", "content": EXPLAIN_SYSTEM}, {"role": "user", "content": examples}]
    )
    match = re.search(r"\[EXPLANATION\]:\s*(.+)", reply)
    return (
        match.group(1) if match else reply.strip().splitlines()[-1] if reply.strip() else ""
    ).strip()


def detect(client, explanation: str, texts: list[str], batch: int = 10) -> list[int]:
    """The scorer's 0/1 verdict for each text under `explanation` (batches of `batch`)."""
    out: list[int] = []
    for start in range(0, len(texts), batch):
        chunk = texts[start : start + batch]
        listing = "\n".join(f"Example {i}: {t}" for i, t in enumerate(chunk))
        user = f"Feature explanation: {explanation}\n\nText examples:\n\n{listing}"

        def valid(obj, n=len(chunk)):
            values = obj["predictions"] if isinstance(obj, dict) else obj
            if not isinstance(values, list) or len(values) != n:
                raise ValueError(f"expected a list of {n} 0/1 values")
            return [1 if int(v) else 0 for v in values]

        reply = client.chat(
            [{"role": "system", "content": DETECT_SYSTEM}, {"role": "user", "content": user}]
        )
        try:
            out += valid(json.loads(reply[reply.index("[") : reply.rindex("]") + 1]))
        except (ValueError, TypeError):
            out += [0] * len(chunk)  # an unusable reply counts as "not active": no credit
    return out


def detection_accuracy(predictions: list[int], active: list[bool]) -> float:
    return sum(int(p == int(a)) for p, a in zip(predictions, active, strict=True)) / max(
        len(active), 1
    )
