"""SAE artifacts: load (SAELens folder or registry), validate against the subject, save atomically.

An artifact is a folder with SAELens's `cfg.json` + `sae_weights.safetensors` (loadable by
`sae_lens.SAE.load_from_disk`) and our `card.json` (subject fingerprint, hook, data, metrics).
Loaders read these and never guess: a d_model or hook mismatch is a clear SaeLoadError.

    from core.sae import load_sae; sae = load_sae("assets/sae/embedded", subject)
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.atomic import TRANSIENT_SUFFIXES, staged_dir
from core.errors import SaeLoadError
from core.paths import ASSETS

CARD_FILE = "card.json"
REGISTRY_PREFIX = "registry:"
DEFAULT_EMBEDDED_SAE = ASSETS / "sae" / "embedded"

_TL_HOOK = re.compile(r"^blocks\.(\d+)\.hook_resid_(pre|mid|post)$")


def translate_hook_name(name: str) -> str:
    """TransformerLens residual hook names -> HF module paths; HF paths pass through.

    `blocks.L.hook_resid_post` is the output of decoder layer L (`model.layers.L`);
    `blocks.L.hook_resid_pre` is the input of layer L, i.e. the output of layer L-1.
    """
    match = _TL_HOOK.match(name)
    if not match:
        return name
    layer, kind = int(match.group(1)), match.group(2)
    if kind == "post":
        return resid_hook(layer)
    if kind == "pre" and layer > 0:
        return resid_hook(layer - 1)
    raise SaeLoadError(
        f"hook '{name}' has no decoder-layer output equivalent; censorscope splices SAEs on "
        "the residual stream after a decoder layer (hook_resid_post)"
    )


def resid_hook(layer: int) -> str:
    """The hook name of the residual stream after decoder layer `layer`."""
    return f"model.layers.{layer}"


def layer_of(hook_name: str) -> int | None:
    match = re.fullmatch(r"model\.layers\.(\d+)", hook_name)
    return int(match.group(1)) if match else None


def subject_fingerprint(subject) -> dict:
    """What must agree between an SAE and the model it is spliced into."""
    cfg = subject.model.config
    return {
        "model_type": cfg.model_type,
        "d_model": int(cfg.hidden_size),
        "n_layers": int(cfg.num_hidden_layers),
        "vocab_size": int(cfg.vocab_size),
    }


@dataclass
class LoadedSae:
    """An SAE plus what censorscope needs to splice it.

    `sae` is a SAELens SAE (or a RuntimeTopK when SAELens is not installed, e.g. on a bare GPU
    box). TopK SAEs without input normalisation take a fast path that reads the weights
    directly: the steering hook needs only the edited features' activations, not a dense scatter.
    """

    sae: torch.nn.Module
    hook_name: str
    """HF module path whose output the SAE reads, e.g. 'model.layers.15'."""
    path: str
    card: dict = field(default_factory=dict)

    def __post_init__(self):
        from core.recipe_origin import sae_fingerprint

        cfg = self.sae.cfg
        self.k: int | None = getattr(cfg, "k", None)
        if getattr(cfg, "rescale_acts_by_decoder_norm", False):
            # The fingerprint a recipe names is of the decoder as stored: folding its norms rounds
            # differently on a GPU and on a CPU, so one taken after the fold would not travel.
            sae_fingerprint(self)
            # SAELens decodes with W_dec's rows divided by their norms. Folding the norms into
            # the encoder leaves the activations unchanged and makes W_dec the true decoder, so
            # the splice's (a' - a) @ W_dec is what the SAE itself would add.
            if hasattr(self.sae, "fold_W_dec_norm"):
                self.sae.fold_W_dec_norm()  # SAELens's own folding
            else:  # RuntimeTopK (no SAELens on this machine): the same three lines by hand
                with torch.no_grad():
                    norms = self.sae.W_dec.norm(dim=-1).clamp(min=1e-8)
                    self.sae.W_dec.div_(norms.unsqueeze(1))
                    self.sae.W_enc.mul_(norms.unsqueeze(0))
                    self.sae.b_enc.mul_(norms)
        self._fast = (
            self.architecture == "topk"
            and getattr(cfg, "normalize_activations", "none") == "none"
            and getattr(cfg, "reshape_activations", "none") == "none"
        )
        self._b_in = self.sae.b_dec if getattr(cfg, "apply_b_dec_to_input", True) else None

    @property
    def d_in(self) -> int:
        return int(self.sae.cfg.d_in)

    @property
    def d_sae(self) -> int:
        return int(self.sae.cfg.d_sae)

    @property
    def architecture(self) -> str:
        return self.sae.cfg.architecture()

    @property
    def W_dec(self) -> torch.Tensor:  # [d_sae, d_in]
        return self.sae.W_dec

    def _pre(self, h: torch.Tensor) -> torch.Tensor:  # [..., d_in] -> [..., d_sae]
        x = h.to(self.sae.W_enc.dtype)
        if self._b_in is not None:
            x = x - self._b_in
        return x @ self.sae.W_enc + self.sae.b_enc

    def encode(self, h: torch.Tensor) -> torch.Tensor:
        """Feature activations [..., d_sae] for residual activations h [..., d_in]."""
        if not self._fast:
            return self.sae.encode(h.to(self.sae.W_enc.dtype))
        pre = self._pre(h)
        values, indices = pre.topk(self.k, dim=-1, sorted=False)
        return torch.zeros_like(pre).scatter_(-1, indices, values.relu())

    def acts_of(self, h: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Activations [..., n] of the given features only; same values as encode(h)[..., features]."""
        if not self._fast:
            return self.encode(h)[..., features]
        pre = self._pre(h)  # [..., d_sae]
        kth = pre.topk(self.k, dim=-1, sorted=False).values.amin(dim=-1, keepdim=True)
        chosen = pre[..., features]
        return torch.where(chosen >= kth, chosen.relu(), torch.zeros_like(chosen))

    def labels(self) -> dict[int, str]:
        """Feature labels from the card, if the artifact has any."""
        return {int(k): v for k, v in self.card.get("labels", {}).items()}

    def causal_scores(self, region: str = "answer") -> dict[int, float]:
        """Attribution scores stored by `python -m core attribute --save` ({} when none)."""
        scores = (self.card.get("causal_scores") or {}).get(region) or {}
        return {int(k): float(v) for k, v in scores.items()}


@dataclass
class RuntimeTopKConfig:
    d_in: int
    d_sae: int
    k: int
    apply_b_dec_to_input: bool = True
    normalize_activations: str = "none"
    rescale_acts_by_decoder_norm: bool = False

    @staticmethod
    def architecture() -> str:
        return "topk"


class RuntimeTopK(torch.nn.Module):
    """A TopK SAE's weights without SAELens: for machines where SAELens is not installed."""

    def __init__(self, cfg: RuntimeTopKConfig, dtype=torch.float32, device=None):
        super().__init__()
        self.cfg = cfg
        kw = {"dtype": dtype, "device": device}
        self.W_enc = torch.nn.Parameter(torch.empty(cfg.d_in, cfg.d_sae, **kw))
        self.b_enc = torch.nn.Parameter(torch.zeros(cfg.d_sae, **kw))
        self.W_dec = torch.nn.Parameter(torch.empty(cfg.d_sae, cfg.d_in, **kw))
        self.b_dec = torch.nn.Parameter(torch.zeros(cfg.d_in, **kw))
        torch.nn.init.kaiming_uniform_(self.W_dec)
        with torch.no_grad():
            self.W_dec /= self.W_dec.norm(dim=-1, keepdim=True)
            self.W_enc.copy_(self.W_dec.T)
        self.requires_grad_(False)

    def decode(self, acts: torch.Tensor) -> torch.Tensor:  # [..., d_sae] -> [..., d_in]
        if self.cfg.rescale_acts_by_decoder_norm:
            acts = acts / self.W_dec.norm(dim=-1)
        return acts @ self.W_dec + self.b_dec


def load_runtime_topk(folder: Path, device: str = "cpu") -> torch.nn.Module:
    """Read a SAELens TopK folder without SAELens (a bare GPU box has torch, not sae-lens)."""
    from safetensors.torch import load_file

    raw = json.loads((folder / "cfg.json").read_text())
    if raw.get("architecture") != "topk" or raw.get("normalize_activations", "none") != "none":
        raise SaeLoadError(
            f"{folder}: without sae-lens installed only TopK SAEs without input normalisation "
            "load; pip install sae-lens"
        )
    cfg = RuntimeTopKConfig(
        d_in=int(raw["d_in"]),
        d_sae=int(raw["d_sae"]),
        k=int(raw["k"]),
        apply_b_dec_to_input=bool(raw.get("apply_b_dec_to_input", True)),
        rescale_acts_by_decoder_norm=bool(raw.get("rescale_acts_by_decoder_norm", False)),
    )
    sae = RuntimeTopK(cfg, device=device)
    weights = load_file(str(folder / "sae_weights.safetensors"), device=device)
    with torch.no_grad():
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(sae, name).copy_(weights[name].float())
    sae.cfg.metadata = raw.get("metadata", {})
    return sae


def load_sae(
    spec: str | Path, subject=None, device: str | None = None, staging: bool = False
) -> LoadedSae:
    """Load an SAE from a folder or `registry:RELEASE:SAE_ID` and check it fits `subject`.

    `staging=True` lets the writer of a staging folder read it back before renaming it in
    (training builds the dashboard from it); everyone else is refused a half-written folder.
    """
    try:
        from sae_lens import SAE
    except ImportError:  # a bare GPU box: TopK folders still load (load_runtime_topk)
        SAE = None

    device = device or (str(subject.device) if subject is not None else "cpu")
    spec = str(spec)
    card: dict = {}
    if spec.startswith(REGISTRY_PREFIX):
        if SAE is None:
            raise SaeLoadError("registry SAEs need sae-lens: pip install sae-lens")
        try:
            release, sae_id = spec[len(REGISTRY_PREFIX) :].split(":", 1)
        except ValueError as err:
            raise SaeLoadError(
                f"registry SAEs are named 'registry:RELEASE:SAE_ID', got '{spec}'"
            ) from err
        try:
            sae = SAE.from_pretrained(release, sae_id, device=device)
        except Exception as err:  # the registry raises many kinds; all mean "not loadable here"
            raise SaeLoadError(
                f"could not load SAE {release}/{sae_id} from the registry: {err}"
            ) from err
    else:
        folder = Path(spec).expanduser()
        if not folder.is_dir():
            raise SaeLoadError(f"SAE folder not found: {folder}")
        check_folder(folder, staging)
        if (folder / CARD_FILE).exists():
            try:
                card = json.loads((folder / CARD_FILE).read_text())
            except json.JSONDecodeError as err:
                raise SaeLoadError(f"{folder / CARD_FILE} is not valid JSON: {err}") from err
        try:
            if SAE is None:
                sae = load_runtime_topk(folder, device)
            else:
                sae = SAE.load_from_disk(folder, device=device)
        except SaeLoadError:
            raise
        except Exception as err:
            raise SaeLoadError(f"could not load the SAE in {folder}: {err}") from err
    metadata = sae.cfg.metadata
    raw_hook = card.get("hook_name") or (
        metadata.get("hook_name") if isinstance(metadata, dict) else metadata.hook_name
    )
    if not raw_hook:
        raise SaeLoadError(f"the SAE at {spec} does not record its hook name (cfg.json metadata)")
    sae.eval()
    sae.requires_grad_(False)
    check_weights(sae, spec)
    loaded = LoadedSae(sae=sae, hook_name=translate_hook_name(raw_hook), path=spec, card=card)
    if subject is not None:
        check_fits(loaded, subject)
    return loaded


def check_folder(folder: Path, staging: bool = False) -> None:
    """Refuse folders a writer has not finished: staging names, or no weights file yet."""
    if folder.name.endswith(TRANSIENT_SUFFIXES) and not staging:
        raise SaeLoadError(
            f"{folder} is a half-written artifact (a '{folder.suffix}' folder is renamed into "
            "place only once complete); load the folder without the suffix"
        )
    if not (folder / "cfg.json").exists():
        raise SaeLoadError(f"{folder} is not an SAE folder: it has no cfg.json")
    if not any(folder.glob("*.safetensors")):
        raise SaeLoadError(f"{folder} has a cfg.json but no weights (*.safetensors)")


def check_weights(sae: torch.nn.Module, spec: str) -> None:
    """Shapes agree with cfg, k is in 1..d_sae, and every weight is finite.

    Any of these would make every later inspect or generation fail (or return NaN) for every
    user, so they are refused at load time, before an SAE is swapped in.
    """
    cfg = sae.cfg
    d_in, d_sae = int(cfg.d_in), int(cfg.d_sae)
    if d_in < 1 or d_sae < 1:
        raise SaeLoadError(
            f"the SAE at {spec} has d_in {d_in} and d_sae {d_sae}; both must be >= 1"
        )
    k = getattr(cfg, "k", None)
    if k is not None and not (isinstance(k, int) and 0 < k <= d_sae):
        raise SaeLoadError(f"the SAE at {spec} has k = {k}; a TopK SAE needs k in 1..{d_sae}")
    shapes = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_in), "b_enc": (d_sae,), "b_dec": (d_in,)}
    for name, shape in shapes.items():
        weight = getattr(sae, name, None)
        if weight is None:
            continue
        if tuple(weight.shape) != shape:
            raise SaeLoadError(
                f"the SAE at {spec} has {name} of shape {tuple(weight.shape)}; its cfg.json "
                f"(d_in {d_in}, d_sae {d_sae}) needs {shape}"
            )
        bad = int((~torch.isfinite(weight)).sum())
        if bad:
            raise SaeLoadError(
                f"the SAE at {spec} has {bad:,} NaN or infinite value(s) in {name}; the weights "
                "are corrupt (a diverged or half-written training run)"
            )


def check_fits(sae: LoadedSae, subject) -> None:
    """Raise SaeLoadError naming the difference when the SAE was not made for this subject."""
    if sae.d_in != subject.d_model:
        raise SaeLoadError(
            f"the SAE reads {sae.d_in}-dim activations but {subject.name} has d_model "
            f"{subject.d_model}: this SAE belongs to another model"
        )
    layer = layer_of(sae.hook_name)
    if layer is None or layer >= subject.n_layers:
        raise SaeLoadError(
            f"the SAE's hook '{sae.hook_name}' is not a decoder layer of {subject.name} "
            f"(model.layers.0 .. model.layers.{subject.n_layers - 1})"
        )
    recorded = sae.card.get("subject", {}).get("fingerprint")
    if recorded and recorded != subject_fingerprint(subject):
        raise SaeLoadError(
            f"the SAE was trained on a different model ({recorded}) than {subject.name} "
            f"({subject_fingerprint(subject)})"
        )


def folder_fits(folder: Path, subject) -> bool:
    """Whether the SAE folder was made for `subject`, from cfg.json and card.json only (no weights).

    For listing candidates cheaply; load_sae still checks everything when one is chosen.
    """
    try:
        cfg = json.loads((folder / "cfg.json").read_text())
        card = json.loads((folder / CARD_FILE).read_text()) if (folder / CARD_FILE).exists() else {}
        raw_hook = card.get("hook_name") or cfg.get("metadata", {}).get("hook_name") or ""
        layer = layer_of(translate_hook_name(raw_hook))
    except (OSError, ValueError, AttributeError, SaeLoadError):
        return False
    if int(cfg.get("d_in", -1)) != subject.d_model or layer is None or layer >= subject.n_layers:
        return False
    recorded = card.get("subject", {}).get("fingerprint")
    return not recorded or recorded == subject_fingerprint(subject)


def make_sae(d_in: int, d_sae: int, k: int, hook_name: str, seed: int = 0, **overrides):
    """A fresh SAELens TopK SAE (random init): for tests and as a starting point."""
    from sae_lens import TopKSAE, TopKSAEConfig

    if not 0 < k <= d_sae:
        raise SaeLoadError(f"k must be in 1..d_sae ({d_sae}), got {k}")
    cfg = TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=k, **overrides)
    cfg.metadata.hook_name = hook_name
    torch.manual_seed(seed)
    return TopKSAE(cfg)


def write_sae_files(sae: torch.nn.Module, folder: Path, card: dict) -> None:
    """cfg.json + weights (SAELens format) + card.json into an existing, empty `folder`."""
    if hasattr(sae, "save_inference_model"):
        sae.save_inference_model(str(folder))
    else:
        sae.save_model(str(folder))
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, default=str))


def save_sae(sae: torch.nn.Module, folder: str | Path, card: dict) -> Path:
    """Write the artifact beside `folder`, then rename it in: loaders never see half a folder."""
    with staged_dir(folder) as stage:
        write_sae_files(sae, stage, card)
    return Path(folder)
