"""Admin: start, watch and cancel dataset builds and SAE training runs; switch the SAE live.

Every admin handler checks the token server-side first (constant-time compare against
CENSORSCOPE_ADMIN_TOKEN, read on each call), so calling an admin endpoint directly through the
API without the token fails the same way as the UI does. Without the env var, admin is off.
Jobs run as background processes whose state lives on disk (training/jobs.py), so they survive
the browser tab closing and the app restarting.
"""

import functools
import hashlib
import hmac
import shlex
import threading
from pathlib import Path

import gradio as gr

from core.atomic import TRANSIENT_SUFFIXES
from core.errors import BadInputError, CensorscopeError
from core.paths import ASSETS, data_dir
from ui import render, runtime
from ui.common import user_errors
from ui.job_args import JOB_KINDS, checked_job_args, parse_job_args

DEFAULT_ARGS = {"train": "--preset tiny", "build": "--offline --limit 200"}
LOG_LINES = 20  # as many as the log box shows: the newest line is always in view
METRIC_KEYS = ("explained_variance", "l0", "mse", "dead_features", "ce_loss_score")
_START_LOCK = threading.Lock()  # check-then-start is atomic: a double click starts one job


class AdminDenied(CensorscopeError):
    """The caller is not an admin (no token, wrong token, or admin disabled)."""


def admin_enabled() -> bool:
    return bool(runtime.get().settings.admin_token)


def check_admin(token: str | None) -> None:
    """Raise AdminDenied unless `token` equals CENSORSCOPE_ADMIN_TOKEN (constant time)."""
    expected = runtime.get().settings.admin_token
    if not expected:
        raise AdminDenied("admin is disabled on this server: CENSORSCOPE_ADMIN_TOKEN is not set")
    # Hash both sides so the comparison takes the same time whatever the lengths.
    given = hashlib.sha256(str(token or "").encode()).digest()
    if not hmac.compare_digest(given, hashlib.sha256(expected.encode()).digest()):
        raise AdminDenied("wrong admin token")


def admin_only(fn):
    """Check the token (the handler's first argument) before anything else runs."""

    @functools.wraps(fn)
    def wrapper(token, *args, **kwargs):
        check_admin(token)
        return fn(token, *args, **kwargs)

    return user_errors(wrapper)


def _jobs():
    try:
        from training import jobs
    except ImportError as err:
        raise runtime.NotAvailable(f"background jobs cannot be imported ({err})") from err
    return jobs


def _job_dict(job) -> dict:
    return job if isinstance(job, dict) else vars(job)


def run_dir_of(job: dict) -> Path | None:
    """The training run folder of a train job (where metrics.jsonl grows), from its argv."""
    argv = job.get("argv") or []
    if job.get("kind") != "train" or "train" not in argv:
        return None
    try:
        from training.__main__ import config_from_args
        from training.trainer import run_dir_of as trainer_run_dir

        args = parse_job_args("train", argv[argv.index("train") + 1 :])
        return trainer_run_dir(config_from_args(args))
    except (CensorscopeError, ImportError, ValueError):
        return None


def sae_choices() -> list[str]:
    """SAE folders the app could switch to, made for the loaded subject: shipped ones (the
    embedded model's and the organism's) and finished training runs."""
    from core.sae import folder_fits

    subject = runtime.get().subject
    found = []
    for root in (ASSETS, data_dir() / "runs"):
        if root.is_dir():
            for pattern in ("*/cfg.json", "*/*/cfg.json", "*/*/*/cfg.json"):
                found += [p.parent for p in sorted(root.glob(pattern))]
    live = [p for p in found if not p.name.endswith(TRANSIENT_SUFFIXES)]
    return [str(p) for p in live if folder_fits(p, subject)]


@admin_only
def on_admin_unlock(token: str):
    """A valid token shows the controls and starts the job poller."""
    return (
        "Admin unlocked. Every action below re-checks the token on the server.",
        gr.update(visible=True),
        gr.Timer(active=True),
        gr.update(choices=sae_choices()),
    )


@admin_only
def on_job_start(token: str, kind: str, args: str):
    """Start a background job with allowlisted arguments; refuses while another job runs."""
    if kind not in JOB_KINDS:
        raise BadInputError(f"job kind must be one of {', '.join(JOB_KINDS)}, got {kind!r}")
    try:
        argv = shlex.split(args or "")
    except ValueError as err:
        raise BadInputError(f"could not parse the arguments: {err}") from err
    argv = checked_job_args(kind, argv)
    jobs = _jobs()
    with _START_LOCK:
        active = ("queued", "running")
        running = [j for j in map(_job_dict, jobs.list_jobs()) if j.get("state") in active]
        if running:
            j = running[0]
            raise BadInputError(
                f"a job is already running ({j.get('kind')} {j.get('id')}); wait for it to "
                "finish or cancel it first"
            )
        job_id = jobs.start(kind, argv)
    return f"Started {JOB_KINDS[kind]} `{job_id}`.", job_id


@admin_only
def on_jobs_refresh(token: str, job_id: str):
    """Jobs table, and the selected job's progress, log tail and metrics plot."""
    jobs = _jobs()
    table = render.jobs_table([_job_dict(j) for j in jobs.list_jobs()])
    if not job_id:
        return table, "Select a job id to watch it.", "", gr.Plot(value=None, visible=False)
    job = _job_dict(jobs.status(job_id))
    progress = job.get("progress")
    line = f"Job `{job_id}`: **{job.get('state')}**" + (
        f" · {float(progress):.0%}" if isinstance(progress, int | float) else ""
    )
    if job.get("message"):
        line += f"  \n{job['message']}"
    run_dir = run_dir_of(job)
    if run_dir is not None and job.get("state") == "done" and (run_dir / "sae").is_dir():
        line += f"  \nSAE ready: `{run_dir / 'sae'}` (switch to it below)"
    is_training = job.get("kind") == "train"
    metrics = gr.Plot(value=metrics_figure(run_dir) if is_training else None, visible=is_training)
    return table, line, jobs.tail(job_id, LOG_LINES), metrics


def metrics_figure(run_dir: Path | None):
    """Training metrics so far (explained variance, L0, MSE, dead features) by step."""
    path = run_dir / "metrics.jsonl" if run_dir else None
    if path is None or not path.exists():
        return None
    from plotly.subplots import make_subplots

    from training.metrics import read_metrics

    rows = read_metrics(path)
    keys = [k for k in METRIC_KEYS if any(k in r for r in rows)]
    if not keys:
        return None
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=keys)
    for i, key in enumerate(keys, start=1):
        pts = [(r["step"], r[key]) for r in rows if key in r and "step" in r]
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], row=1, col=i, name=key)
    fig.update_layout(height=280, showlegend=False, template="plotly_white", margin={"t": 70})
    return fig


@admin_only
def on_job_cancel(token: str, job_id: str):
    if not job_id:
        raise BadInputError("enter the id of the job to cancel")
    return _jobs().cancel(job_id.strip())


@admin_only
def on_sae_switch(token: str, path: str):
    """Load another SAE folder and swap it in for every user, without a restart."""
    if not path:
        raise BadInputError("choose or type an SAE folder")
    message = runtime.get().switch_sae(path)
    return message, runtime.get().header()


def on_sae_list(token: str):
    check_admin(token)
    return gr.update(choices=sae_choices())


def build_admin_tab(header: gr.Markdown) -> dict:
    if admin_enabled():
        intro = "Enter the admin token to unlock. Jobs keep running when you close the tab."
    else:
        intro = (
            "**Admin is disabled on this server**: set the `CENSORSCOPE_ADMIN_TOKEN` environment "
            "variable (a Space secret) and restart to enable dataset builds, SAE training and "
            "SAE switching from here."
        )
    gr.Markdown(intro, elem_id="admin-intro")
    with gr.Row():
        token = gr.Textbox(
            label="Admin token", type="password", scale=3, interactive=admin_enabled(),
            elem_id="admin-token",
        )  # fmt: skip
        unlock_btn = gr.Button(
            "Unlock", scale=1, interactive=admin_enabled(), elem_id="admin-unlock"
        )
    status = gr.Markdown("", elem_id="admin-status")
    timer = gr.Timer(3.0, active=False)
    with gr.Column(visible=False) as panel:
        gr.Markdown("### Jobs")
        with gr.Row():
            kind = gr.Radio(list(JOB_KINDS), value="train", label="Job")
            args = gr.Textbox(value=DEFAULT_ARGS["train"], label="Arguments", scale=3)
            start_btn = gr.Button("Start", variant="primary", elem_id="job-start")
        jobs_table = gr.Dataframe(headers=render.JOB_HEADERS, interactive=False)
        with gr.Row():
            job_id = gr.Textbox(label="Watch job id", scale=3)
            cancel_btn = gr.Button("Cancel job", variant="stop")
        progress = gr.Markdown("")
        log = gr.Textbox(
            label=f"Log (last {LOG_LINES} lines, newest at the bottom)", lines=LOG_LINES,
            max_lines=LOG_LINES, autoscroll=True, elem_id="job-log",
        )  # fmt: skip
        metrics = gr.Plot(label="Training metrics", visible=False)
        gr.Markdown("### Switch SAE (for every user, no restart)")
        with gr.Row():
            sae_path = gr.Dropdown([], label="SAE folder", allow_custom_value=True, scale=3)
            list_btn = gr.Button("Rescan")
            switch_btn = gr.Button("Switch SAE", variant="primary")

    unlock_btn.click(
        on_admin_unlock, [token], [status, panel, timer, sae_path], api_name="admin_unlock"
    )
    kind.change(lambda k: DEFAULT_ARGS.get(k, ""), [kind], [args], api_visibility="private")
    start_btn.click(on_job_start, [token, kind, args], [status, job_id], api_name="admin_start")
    watch = [jobs_table, progress, log, metrics]
    timer.tick(
        on_jobs_refresh, [token, job_id], watch, api_name="admin_jobs", concurrency_limit=None
    )
    job_id.submit(on_jobs_refresh, [token, job_id], watch, api_visibility="private")
    cancel_btn.click(on_job_cancel, [token, job_id], [status], api_name="admin_cancel")
    list_btn.click(user_errors(on_sae_list), [token], [sae_path], api_visibility="private")
    switch_btn.click(
        on_sae_switch, [token, sae_path], [status, header], api_name="admin_switch_sae",
        concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    return {}
