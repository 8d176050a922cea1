"""SAELens's training runner with censorscope's metrics, held-out evals and resume bookkeeping.

SAELens logs only to wandb; this subclass hooks its trainer's `step` to append rows to
metrics.jsonl, runs held-out evals (CE loss score with the SAE spliced vs. without), keeps only
the newest checkpoints, and knows how far the run got when it is interrupted.
"""

import shutil
import signal
import time
from pathlib import Path

import torch
from sae_lens import LanguageModelSAETrainingRunner
from sae_lens.evals import EvalConfig, run_evals
from sae_lens.load_model import HookedProxyLM
from sae_lens.training._interruption import InterruptedException, interrupt_callback
from sae_lens.training.activation_scaler import ActivationScaler
from sae_lens.training.activations_store import ActivationsStore

from training.metrics import MetricsLog

KEEP_CHECKPOINTS = 2


class CensorscopeRunner(LanguageModelSAETrainingRunner):
    """Train on `subject` (any HF causal LM) with activations streamed from `train_ds`."""

    def __init__(
        self, runner_cfg, subject, train_ds, heldout_ds, cfg, log: MetricsLog, progress=None
    ):
        modules = dict(subject.model.named_modules())
        target = modules.get(cfg.hook_name)
        self._hooks_before = set(target._forward_hooks) if target is not None else set()
        self._hooked_module = target
        # hook_names restricts instrumentation to the one module; SAELens then stops the forward
        # at that layer (StopManager), so layers above the hook are never run while training.
        model = HookedProxyLM(subject.model, subject.tokenizer, hook_names=[cfg.hook_name])
        super().__init__(runner_cfg, override_dataset=train_ds, override_model=model)
        self.heldout_ds = heldout_ds
        self.train_texts = list(train_ds["text"])
        self.heldout_texts = list(heldout_ds["text"])
        self.our_cfg = cfg
        self.log = log
        self.progress = progress
        self.trainer = None
        self.steps_done = 0
        self.tokens_done = 0
        self._clock = (time.perf_counter(), 0)

    def close(self) -> None:
        """HookedProxyLM never removes its forward hooks; drop them so the subject stays plain."""
        if self._hooked_module is None:
            return
        for key in set(self._hooked_module._forward_hooks) - self._hooks_before:
            del self._hooked_module._forward_hooks[key]

    def run_trainer_with_interruption_handling(self, trainer):
        self.trainer = trainer
        self.steps_done, self.tokens_done = trainer.n_training_steps, trainer.n_training_samples
        self._clock = (time.perf_counter(), trainer.n_training_samples)
        # After a resume, thresholds already passed would each trigger a checkpoint at once.
        trainer.checkpoint_thresholds = [
            t for t in trainer.checkpoint_thresholds if t > trainer.n_training_samples
        ]
        plain_step = trainer.step
        self._in_step, self._expected_steps = False, trainer.n_training_steps

        def step(batch):
            self._samples_before, self._in_step = trainer.n_training_samples, True
            output = plain_step(batch)
            self._in_step, self._expected_steps = False, trainer.n_training_steps + 1
            self._after_step(trainer, output)
            return output

        trainer.step = step
        plain_save = trainer.save_checkpoint

        def save_checkpoint(checkpoint_name, *args, **kwargs):
            # fit() checkpoints after a step has been learned from (and the lr scheduler has
            # stepped) but before it increments n_training_steps; saved as is, a resumed run
            # would count that step twice in its schedule bookkeeping and finish one short.
            lag = self._expected_steps - trainer.n_training_steps
            trainer.n_training_steps += lag
            try:
                return plain_save(checkpoint_name, *args, **kwargs)
            finally:
                trainer.n_training_steps -= lag

        trainer.save_checkpoint = save_checkpoint
        # SAELens's own interrupt path saves only the activation-store state (no weights, no
        # trainer state), so we catch the interrupt here and write a full checkpoint.
        signal.signal(signal.SIGINT, interrupt_callback)
        signal.signal(signal.SIGTERM, interrupt_callback)
        try:
            return trainer.fit()
        except (KeyboardInterrupt, InterruptedException):
            if self._in_step:  # the batch was counted but not learned from
                trainer.n_training_samples = self._samples_before
            elif trainer.n_training_steps < self._expected_steps:  # learned from, not yet counted
                trainer.n_training_steps = self._expected_steps
            self.steps_done, self.tokens_done = trainer.n_training_steps, trainer.n_training_samples
            trainer.save_checkpoint(checkpoint_name=str(trainer.n_training_samples))
            raise

    def save_checkpoint(self, checkpoint_path: Path | None) -> None:
        super().save_checkpoint(checkpoint_path)
        if checkpoint_path is None:
            return
        root = Path(checkpoint_path).parent
        older = sorted((p for p in root.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
        for path in older[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(path, ignore_errors=True)

    @torch.no_grad()
    def _after_step(self, trainer, output) -> None:
        cfg = self.our_cfg
        n = trainer.n_training_steps + 1  # fit() increments the count after this call
        self.steps_done, self.tokens_done = n, trainer.n_training_samples
        last = n == trainer.cfg.total_training_steps
        if n % cfg.log_every == 0 or last:
            d = trainer.build_train_step_log_dict(output, trainer.n_training_samples)
            now, tokens = time.perf_counter(), trainer.n_training_samples
            t0, tokens0 = self._clock
            self._clock = (now, tokens)
            dead = int(d["sparsity/dead_features"])
            self.log.append(
                {
                    "step": n,
                    "tokens": tokens,
                    "kind": "train",
                    "loss": d["losses/overall_loss"],
                    "mse": d.get("losses/mse_loss"),
                    "aux_loss": d.get("losses/auxiliary_reconstruction_loss"),
                    "explained_variance": d["metrics/explained_variance"],
                    "l0": d["metrics/l0"],
                    "dead_features": dead,
                    "dead_fraction": dead / trainer.sae.cfg.d_sae,
                    "lr": d["details/current_learning_rate"],
                    "tokens_per_s": (tokens - tokens0) / max(now - t0, 1e-9),
                    "time": time.time(),
                }
            )
            if self.progress:
                self.progress(tokens, trainer.cfg.total_training_samples)
        if cfg.eval_every and (n % cfg.eval_every == 0 or last):
            start = time.perf_counter()
            trainer.sae.eval()
            try:
                metrics = self.evaluate(trainer.sae, trainer.activation_scaler, cfg.eval_batches)
            finally:
                trainer.sae.train()
            metrics["eval_s"] = time.perf_counter() - start
            self.log.append(
                {"step": n, "tokens": trainer.n_training_samples, "kind": "eval", **metrics}
            )
            # eval time is not training throughput
            self._clock = (time.perf_counter(), trainer.n_training_samples)

    @torch.no_grad()
    def evaluate(self, sae, scaler: ActivationScaler, n_batches: int) -> dict:
        """SAELens evals on the held-out texts (a fresh store, so every eval sees the same text)."""
        store = ActivationsStore.from_config(self.model, self.cfg, override_dataset=self.heldout_ds)
        special = store.exclude_special_tokens
        metrics, _ = run_evals(
            sae=sae,
            activation_store=store,
            model=self.model,
            activation_scaler=scaler,
            eval_config=EvalConfig(
                batch_size_prompts=self.cfg.store_batch_size_prompts,
                n_eval_reconstruction_batches=n_batches,
                n_eval_sparsity_variance_batches=n_batches,
                compute_ce_loss=True,
                compute_sparsity_metrics=True,
                compute_variance_metrics=True,
            ),
            exclude_special_tokens=special.tolist() if special is not None else False,
            model_kwargs=self.cfg.model_kwargs,
        )
        flat = {}
        for group in metrics.values():
            flat.update(group)
        keep = (
            "explained_variance",
            "mse",
            "l0",
            "cossim",
            "ce_loss_score",
            "ce_loss_with_sae",
            "ce_loss_without_sae",
            "ce_loss_with_ablation",
        )
        return {k: float(flat[k]) for k in keep if k in flat}

    def final_metrics(self, sae) -> dict:
        """Held-out metrics of the finished SAE plus the trainer's dead-latent count."""
        sae.eval()
        metrics = self.evaluate(sae, ActivationScaler(), self.our_cfg.final_eval_batches)
        dead = int(self.trainer.dead_neurons.sum().item()) if self.trainer else None
        metrics["dead_features"] = dead
        metrics["dead_fraction"] = dead / sae.cfg.d_sae if dead is not None else None
        return metrics
