"""The SAELens adapter: TrainConfig -> LanguageModelSAERunnerConfig, and one training run.

SAELens does the training (TopK SAE, aux loss for dead latents, cosine lr with warm-up,
checkpoints, streamed activations). This file adds what censorscope needs around it:
any subject `core.model.load_subject` loads (wrapped in `HookedProxyLM`, so the forward stops at
the hook layer), metrics.jsonl + plots, resume from the last checkpoint, held-out evals, and an
artifact that appears in one rename with its card, plots and dashboard.

    python -m training train --preset tiny
"""

import fcntl
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import torch

from core.atomic import staged_dir
from core.errors import CensorscopeError
from core.paths import data_dir
from training.config import TrainConfig
from training.metrics import METRICS_FILE, MetricsLog, render_plots

CONFIG_FILE = "train_config.json"
DONE_FILE = "done.json"
CHECKPOINTS = "checkpoints"
PLOTS_DIR = "plots"


class TrainingError(CensorscopeError):
    """A training run that cannot start or finish (busy run folder, disk full, config change)."""


class TrainingInterrupted(CensorscopeError):
    """Ctrl-C or SIGTERM: progress was checkpointed; the same command resumes it."""


def run_dir_of(cfg: TrainConfig) -> Path:
    return Path(cfg.run_dir).expanduser() if cfg.run_dir else data_dir() / "runs" / cfg.name


def output_of(cfg: TrainConfig) -> Path:
    return Path(cfg.output).expanduser() if cfg.output else run_dir_of(cfg) / "sae"


def to_runner_config(cfg: TrainConfig, subject, run_dir: Path):
    """The one mapping from our TrainConfig onto SAELens's LanguageModelSAERunnerConfig."""
    from sae_lens import LanguageModelSAERunnerConfig, LoggingConfig, TopKTrainingSAEConfig

    cfg.check_subject(subject.n_layers, subject.d_model)
    sae_cfg = TopKTrainingSAEConfig(
        d_in=subject.d_model,
        d_sae=cfg.resolved_d_sae(subject.d_model),
        k=cfg.k,
        aux_loss_coefficient=cfg.aux_loss_coefficient,
        normalize_activations=cfg.normalize_activations,
        dtype="float32",
        device=cfg.device,
    )
    runner_cfg = LanguageModelSAERunnerConfig(
        sae=sae_cfg,
        model_name=subject.source,
        model_class_name="AutoModelForCausalLM",
        hook_name=cfg.hook_name,
        dataset_path="censorscope-mixed-texts",
        streaming=False,
        is_dataset_tokenized=False,
        context_size=cfg.context_size,
        n_batches_in_buffer=cfg.n_batches_in_buffer,
        training_tokens=cfg.tokens,
        store_batch_size_prompts=cfg.store_batch_prompts,
        train_batch_size_tokens=cfg.train_batch_tokens,
        prepend_bos=subject.tokenizer.bos_token_id is not None,
        sequence_separator_token="eos" if subject.tokenizer.eos_token_id is not None else None,
        exclude_special_tokens=cfg.exclude_special_tokens,
        device=cfg.device,
        seed=cfg.seed,
        dtype="float32",
        autocast=cfg.autocast,
        autocast_lm=cfg.autocast_lm,
        compile_sae=cfg.compile_sae,
        lr=cfg.lr,
        lr_scheduler_name="cosineannealing",
        lr_warm_up_steps=cfg.lr_warmup_steps,
        lr_end=cfg.lr * cfg.lr_end_ratio,
        dead_feature_window=cfg.dead_feature_window,
        feature_sampling_window=cfg.feature_sampling_window,
        n_eval_batches=cfg.eval_batches,
        eval_batch_size_prompts=cfg.store_batch_prompts,
        logger=LoggingConfig(log_to_wandb=False, run_name=cfg.name),
        n_checkpoints=cfg.n_checkpoints,
        checkpoint_path=str(run_dir / CHECKPOINTS),
        output_path=None,  # we save the artifact ourselves, atomically, with its card
        model_from_pretrained_kwargs={},
        n_batches_for_norm_estimate=min(50, max(1, cfg.total_steps // 50)),
        verbose=False,
        **cfg.extra,
    )
    # __post_init__ appended a random id to checkpoint_path; a fixed path is what lets a rerun
    # of the same command find its checkpoints.
    runner_cfg.checkpoint_path = str(run_dir / CHECKPOINTS)
    return runner_cfg


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (SAELens writes the runner cfg last, so it marks done)."""
    from sae_lens.constants import RUNNER_CFG_FILENAME

    root = run_dir / CHECKPOINTS
    done = [p for p in root.glob("*") if p.name.isdigit() and (p / RUNNER_CFG_FILENAME).exists()]
    return max(done, key=lambda p: int(p.name)) if done else None


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at `path` cannot be resumed from (a file that does not read back), or None."""
    from safetensors.torch import load_file

    try:
        for file in sorted(path.glob("*.safetensors")):
            load_file(str(file))
        for file in sorted(path.glob("*.json")):
            json.loads(file.read_text())
        torch.load(path / "trainer_state.pt", map_location="cpu")
    except Exception as err:  # truncated or garbled files raise many kinds; all mean unusable
        return f"{type(err).__name__}: {err}"
    return None


def usable_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint that reads back; damaged newer ones are reported and removed.

    A machine that died while writing (or a full disk) can leave the newest checkpoint
    truncated; resuming from the one before loses a few steps instead of failing every restart.
    """
    while (checkpoint := latest_checkpoint(run_dir)) is not None:
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            return checkpoint
        print(
            f"checkpoint {checkpoint} is damaged ({problem}); removing it and resuming from the "
            "one before",
            file=sys.stderr,
        )
        shutil.rmtree(checkpoint, ignore_errors=True)
    return None


def _lock(run_dir: Path):
    """Hold an exclusive lock on the run folder for this process's lifetime."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / ".lock", "a+")  # noqa: SIM115 - held open until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        handle.seek(0)
        raise TrainingError(
            f"a training is already running in {run_dir} (pid {handle.read().strip() or '?'}); "
            "wait for it or cancel it"
        ) from err
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _check_same_run(cfg: TrainConfig, run_dir: Path, fresh: bool) -> str:
    """'resume', 'done' (this exact run already finished) or 'new'.

    Refuses to mix two different configs in one run folder.
    """
    saved = run_dir / CONFIG_FILE
    if fresh:
        shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)
        (run_dir / DONE_FILE).unlink(missing_ok=True)
    elif saved.exists() and (latest_checkpoint(run_dir) or (run_dir / DONE_FILE).exists()):
        previous = TrainConfig.from_dict(json.loads(saved.read_text()))
        if not previous.same_run_as(cfg):
            raise TrainingError(
                f"{run_dir} holds a run with a different config; pass --fresh to start over "
                "there, or --run-dir for a new folder"
            )
        return "done" if (run_dir / DONE_FILE).exists() else "resume"
    (run_dir / METRICS_FILE).unlink(missing_ok=True)  # a new run starts a new log
    saved.write_text(json.dumps(cfg.to_dict(), indent=2))
    return "new"


def train(cfg: TrainConfig, fresh: bool = False, subject=None, progress=None) -> Path:
    """Train (or resume) the SAE `cfg` describes; returns the artifact folder.

    `progress(done_tokens, total_tokens)` is called at every metrics row (the jobs runner uses it).
    """
    from core.model import load_subject

    run_dir = run_dir_of(cfg)
    lock = _lock(run_dir)
    # SAELens installs SIGINT/SIGTERM handlers for its checkpoint-on-interrupt; put ours back after.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        state = _check_same_run(cfg, run_dir, fresh)
        if state == "done" and output_of(cfg).exists():
            print(
                f"this run already finished; its SAE is in {output_of(cfg)} (--fresh retrains)",
                file=sys.stderr,
            )
            return output_of(cfg)
        if state == "done":  # finished once, but its artifact is gone: train it again
            state = "new"
            (run_dir / METRICS_FILE).unlink(missing_ok=True)
        torch.manual_seed(cfg.seed)
        subject = subject or load_subject(cfg.subject, device=cfg.device, dtype=cfg.dtype)
        runner_cfg = to_runner_config(cfg, subject, run_dir)
        from training.data import load_training_texts

        texts = load_training_texts(cfg, subject)
        train_ds, heldout_ds = texts.as_datasets()
        checkpoint = usable_checkpoint(run_dir) if state == "resume" else None
        if state == "resume" and checkpoint is None:  # all were damaged (and removed)
            print(f"no usable checkpoint in {run_dir}; starting the run over", file=sys.stderr)
            (run_dir / METRICS_FILE).unlink(missing_ok=True)
        log = MetricsLog(run_dir / METRICS_FILE)
        if checkpoint is not None:
            runner_cfg.resume_from_checkpoint = str(checkpoint)
            step = int(torch.load(checkpoint / "trainer_state.pt")["n_training_steps"])
            log.truncate_after(step)
            print(
                f"resuming {run_dir} from step {step} ({checkpoint.name} tokens)", file=sys.stderr
            )
        from sae_lens.training._interruption import InterruptedException

        from training.runner import CensorscopeRunner

        runner = CensorscopeRunner(
            runner_cfg, subject, train_ds, heldout_ds, cfg, log, progress=progress
        )
        try:
            sae = runner.run()
            final = runner.final_metrics(sae)
        except (KeyboardInterrupt, InterruptedException) as err:
            raise TrainingInterrupted(
                f"interrupted at step {runner.steps_done}; checkpoint saved in "
                f"{run_dir / CHECKPOINTS}. Run the same command again to resume."
            ) from err
        finally:
            runner.close()
        log.append(
            {"step": runner.steps_done, "tokens": runner.tokens_done, "kind": "final", **final}
        )
        folder = _write_artifact(cfg, subject, sae, runner, texts.summary, final, run_dir)
        (run_dir / DONE_FILE).write_text(json.dumps({"sae": str(folder), "metrics": final}))
        return folder
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        lock.close()


def _write_artifact(cfg, subject, sae, runner, data_summary, final, run_dir) -> Path:
    """Stage cfg/weights/card/metrics/plots/dashboard next to the target, then rename it in."""
    from core.sae import subject_fingerprint, write_sae_files

    target = output_of(cfg)
    card = {
        "hook_name": cfg.hook_name,
        "subject": {
            "source": subject.source,
            "name": subject.name,
            "fingerprint": subject_fingerprint(subject),
        },
        "architecture": "topk",
        "d_in": subject.d_model,
        "d_sae": cfg.resolved_d_sae(subject.d_model),
        "k": cfg.k,
        "dataset": data_summary,
        "tokens_seen": runner.tokens_done,
        "steps": runner.steps_done,
        "train_config": cfg.to_dict(),
        "metrics": final,
        "metrics_note": "explained_variance, mse, l0, ce_loss_* on held-out text; dead_features "
        f"over the last {cfg.dead_feature_window} training steps",
        "sae_lens_version": _version("sae-lens"),
        "weights_stored_as": "float16 (loaded as float32)",
        "labels": {},
    }
    try:
        with staged_dir(target) as stage:
            write_sae_files(sae, stage, card)
            _halve_weights(stage)
            shutil.copy(run_dir / METRICS_FILE, stage / METRICS_FILE)
            render_plots(
                stage / METRICS_FILE, stage / PLOTS_DIR, title=f"{subject.name} {cfg.hook_name}"
            )
            if cfg.dashboard_tokens:
                from core.sae import load_sae
                from training.dashboard import build_dashboard

                build_dashboard(
                    load_sae(stage, subject, staging=True),
                    subject,
                    runner.heldout_texts + runner.train_texts,
                    stage,
                    n_tokens=cfg.dashboard_tokens,
                    context_size=cfg.context_size,
                )
    except OSError as err:
        raise TrainingError(
            f"could not write the SAE artifact to {target}: {err}. Nothing was replaced; the "
            f"checkpoints in {run_dir / CHECKPOINTS} are kept."
        ) from err
    render_plots(
        run_dir / METRICS_FILE, run_dir / PLOTS_DIR, title=f"{subject.name} {cfg.hook_name}"
    )
    return target


def _halve_weights(folder: Path) -> None:
    """Store weights as float16 (half the size; the repo ships the embedded SAE).

    cfg.json keeps dtype float32, and SAELens casts to it on load, so loaders see float32.
    """
    from safetensors.torch import load_file, save_file

    path = folder / "sae_weights.safetensors"
    tensors = load_file(str(path))
    save_file(
        {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()},
        str(path),
    )


def _version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
