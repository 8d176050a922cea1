"""Background jobs: a dataset build or an SAE training as a detached process, state on disk.

Each job is a folder `data/jobs/<id>/` with `state.json` (queued | running | done | failed |
cancelled, progress, pid, times) and `log.txt` (the command's stdout+stderr). A supervisor
process (`python -m training.jobs run ID`) runs in its own session, so the job survives the
browser tab or shell that started it; it takes a machine-wide lock, so jobs run one at a time
and later ones wait queued. Cancelling sends SIGTERM (training checkpoints and can be resumed).

    from training import jobs
    job_id = jobs.start("train", ["--preset", "tiny"]); jobs.status(job_id).state
    python -m training jobs list
"""

import fcntl
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from core.atomic import write_text_atomic
from core.errors import BadInputError
from core.paths import REPO_ROOT, data_dir

State = Literal["queued", "running", "done", "failed", "cancelled"]
ENDED = ("done", "failed", "cancelled")
KINDS = {
    "train": ["-m", "training", "train"],
    "build": ["-m", "data_builder", "build"],
}
_PROGRESS = re.compile(r"progress (\d+)/(\d+)")


@dataclass
class Job:
    id: str
    kind: str
    argv: list[str]
    state: State = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    pid: int | None = None
    """The supervisor's pid (it owns the command's process group)."""
    child_pid: int | None = None
    returncode: int | None = None
    progress: float | None = None
    """Fraction done, from the last 'progress N/M' line the command printed."""
    message: str = ""
    log: str = ""


def jobs_dir() -> Path:
    path = Path(os.environ.get("CENSORSCOPE_JOBS") or data_dir() / "jobs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _job_dir(job_id: str) -> Path:
    if not re.fullmatch(r"[a-z]+-\d{8}-\d{6}-[0-9a-f]{4}", job_id or ""):
        raise BadInputError(f"'{job_id}' is not a job id")
    path = jobs_dir() / job_id
    if not (path / "state.json").exists():
        raise BadInputError(f"no job '{job_id}'")
    return path


@contextmanager
def _locked(job_dir: Path):
    """Serialise read-modify-write of one job's state between supervisor and callers."""
    with open(job_dir / ".state.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _read(job_dir: Path) -> Job:
    return Job(**json.loads((job_dir / "state.json").read_text()))


def _write(job_dir: Path, job: Job) -> None:
    write_text_atomic(job_dir / "state.json", json.dumps(asdict(job), indent=2))


def _update(job_dir: Path, **changes) -> Job:
    with _locked(job_dir):
        job = _read(job_dir)
        for key, value in changes.items():
            setattr(job, key, value)
        _write(job_dir, job)
    return job


def start(kind: str, args: list[str] | None = None) -> str:
    """Queue a job (`train` or `build`, with CLI arguments) and return its id at once."""
    if kind not in KINDS:
        raise BadInputError(f"unknown job kind '{kind}'; choose one of {', '.join(KINDS)}")
    return _launch(kind, [sys.executable, *KINDS[kind], *(args or [])])


def _launch(kind: str, argv: list[str]) -> str:
    job_id = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    job_dir = jobs_dir() / job_id
    job_dir.mkdir(parents=True)
    log = job_dir / "log.txt"
    log.touch()
    _write(job_dir, Job(id=job_id, kind=kind, argv=argv, log=str(log)))
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "training.jobs", "run", job_id],
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(job_dir / "supervisor.txt", "w"),  # noqa: SIM115 - the child keeps it
        start_new_session=True,  # not killed with the caller's terminal or process group
        env={**os.environ, "CENSORSCOPE_JOBS": str(jobs_dir())},
    )
    _update(job_dir, pid=supervisor.pid)
    return job_id


def status(job_id: str) -> Job:
    """The job's state, with progress read from its log; a vanished supervisor reads as failed."""
    job_dir = _job_dir(job_id)
    job = _read(job_dir)
    if job.state not in ENDED and job.pid and not _alive(job.pid):
        job = _update(
            job_dir, state="failed", ended=time.time(), message="the job's process vanished"
        )
    matches = _PROGRESS.findall(_tail_text(Path(job.log), 8192)) if job.log else []
    if matches:
        done, total = map(int, matches[-1])
        job.progress = done / total if total else None
    if job.state == "done":
        job.progress = 1.0
    return job


def list_jobs() -> list[Job]:
    """All jobs, newest first."""
    ids = sorted(
        (p.name for p in jobs_dir().iterdir() if (p / "state.json").exists()), reverse=True
    )
    return [status(i) for i in ids]


def cancel(job_id: str) -> str:
    """Stop a queued or running job; on an ended job, say so and change nothing."""
    job_dir = _job_dir(job_id)
    with _locked(job_dir):
        job = _read(job_dir)
        if job.state in ENDED:
            return f"job {job_id} already ended ({job.state}); nothing to cancel"
        job.message = "cancel requested"
        if job.state == "queued":
            job.state, job.ended = "cancelled", time.time()
        _write(job_dir, job)
    if job.state == "cancelled":
        if job.pid and _alive(job.pid):
            os.kill(job.pid, signal.SIGTERM)
        return f"job {job_id} cancelled before it started"
    if job.child_pid and _alive(job.child_pid):
        os.killpg(job.child_pid, signal.SIGTERM)  # training checkpoints on SIGTERM
    return f"job {job_id} is stopping (SIGTERM sent); rerun it to resume from its checkpoint"


def tail(job_id: str, n: int = 20) -> str:
    """The last `n` lines of the job's log."""
    job = _read(_job_dir(job_id))
    lines = _tail_text(Path(job.log), 64 * 1024).splitlines()
    return "\n".join(lines[-n:])


def _tail_text(path: Path, n_bytes: int) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - n_bytes))
        return f.read().decode("utf-8", "replace").replace("\r", "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped by its parent) is not alive for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def _supervise(job_id: str) -> int:
    """Wait for the machine-wide slot, run the command, record how it ended."""
    job_dir = jobs_dir() / job_id
    with open(jobs_dir() / ".runner.lock", "a+") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)  # one job at a time; the rest wait here, queued
        with _locked(job_dir):
            job = _read(job_dir)
            if job.state == "cancelled":
                return 0
            with open(job.log, "ab") as log:
                child = subprocess.Popen(
                    job.argv,
                    cwd=REPO_ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            job.state, job.started, job.child_pid = "running", time.time(), child.pid
            _write(job_dir, job)

        def forward(signum, _frame):
            os.killpg(child.pid, signum)

        signal.signal(signal.SIGTERM, forward)
        code = child.wait()
        with _locked(job_dir):
            job = _read(job_dir)
            cancelled = job.message == "cancel requested"
            job.state = "cancelled" if cancelled else ("done" if code == 0 else "failed")
            job.returncode, job.ended = code, time.time()
            if not cancelled and code != 0:
                job.message = _tail_text(Path(job.log), 2000).strip().splitlines()[-1:][0:1]
                job.message = job.message[0] if job.message else f"exit code {code}"
            _write(job_dir, job)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        sys.exit(_supervise(sys.argv[2]))
    print(
        "usage: python -m training.jobs run JOB_ID (used by training.jobs.start)", file=sys.stderr
    )
    sys.exit(2)
