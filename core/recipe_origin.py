"""Where a steering recipe was made: the SAE's and the subject's fingerprints.

Feature ids mean nothing outside the SAE that defined them: feature 123 of one SAE is another
direction in the next. So an exported recipe carries the fingerprint of its SAE (a hash of the
decoder weights and hook) and of its subject (model type and shapes, core.sae.subject_fingerprint),
and importing it next to a different SAE or subject is refused unless the user insists.

    text = recipe_to_json(edits, **recipe_origin(sae, subject))
    check_origin(recipe_meta(text), sae, subject)   # RecipeMismatch if made elsewhere
"""

import contextlib
import hashlib
import json

from core.errors import BadInputError


class RecipeMismatch(BadInputError):
    """The recipe was made for another SAE or subject."""


def sae_fingerprint(sae) -> str:
    """sha256 of the hook name, shape and decoder weights (cached on the loaded SAE)."""
    cached = getattr(sae, "_fingerprint", None)
    if cached:
        return cached
    w = sae.W_dec.detach().float().cpu().contiguous()
    digest = hashlib.sha256(f"{sae.hook_name}|{tuple(w.shape)}".encode())
    digest.update(w.numpy().tobytes())
    value = digest.hexdigest()[:16]
    with contextlib.suppress(AttributeError):
        sae._fingerprint = value
    return value


def recipe_origin(sae, subject) -> dict:
    from core.sae import subject_fingerprint

    return {
        "sae": str(sae.path),
        "sae_fingerprint": sae_fingerprint(sae),
        "hook_name": sae.hook_name,
        "subject": subject.name,
        "subject_fingerprint": subject_fingerprint(subject),
    }


def recipe_meta(text: str) -> dict:
    """The recipe's metadata (everything but its edits); {} for a bare list of edits."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return {k: v for k, v in data.items() if k != "edits"} if isinstance(data, dict) else {}


def check_origin(meta: dict, sae, subject, force: bool = False) -> list[str]:
    """Differences between where the recipe was made and what runs here.

    Raises RecipeMismatch naming them unless `force`; returns them (as warnings) when forced.
    A recipe without fingerprints (hand-written, or older) passes with a warning.
    """
    from core.sae import subject_fingerprint

    problems = []
    if "sae_fingerprint" not in meta:
        return ["the recipe records no SAE fingerprint; check its feature ids fit this SAE"]
    if meta["sae_fingerprint"] != sae_fingerprint(sae):
        problems.append(
            f"it was made for SAE {meta.get('sae', '?')} (fingerprint {meta['sae_fingerprint']}),"
            f" and this app runs {sae.path} (fingerprint {sae_fingerprint(sae)}): the same "
            "feature ids name other features here"
        )
    recorded = meta.get("subject_fingerprint")
    if recorded and recorded != subject_fingerprint(subject):
        problems.append(
            f"it was made on subject {meta.get('subject', '?')} ({recorded}), not {subject.name}"
        )
    if problems and not force:
        raise RecipeMismatch(
            "this recipe was made elsewhere: " + "; ".join(problems) + ". Tick 'import even if "
            "made for another SAE' to load it anyway."
        )
    return problems
