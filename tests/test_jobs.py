"""Background jobs: state on disk, one at a time, cancellable, progress and log readable."""

import sys
import time

import pytest

from core.errors import BadInputError
from training import jobs


@pytest.fixture(autouse=True)
def jobs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("CENSORSCOPE_JOBS", str(tmp_path))
    return tmp_path


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(job_id, states, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = jobs.status(job_id)
        if job.state in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"{job_id} stayed {jobs.status(job_id).state}")


def test_job_runs_to_done_with_progress_and_log():
    code = "import sys\nfor i in range(1, 5): print(f'progress {i}/4 tokens', file=sys.stderr)\nprint('finished')"
    job_id = jobs._launch("train", py(code))
    job = wait_for(job_id, ("done", "failed"))
    assert job.state == "done" and job.returncode == 0 and job.progress == 1.0
    assert jobs.tail(job_id, 1) == "finished"
    assert "progress 4/4" in jobs.tail(job_id, 10)
    assert [j.id for j in jobs.list_jobs()] == [job_id]


def test_failing_command_is_failed_with_its_last_line():
    job = wait_for(
        jobs._launch("build", py("raise SystemExit('error: no prompts')")), ("done", "failed")
    )
    assert job.state == "failed" and job.returncode == 1 and "no prompts" in job.message


def test_jobs_run_one_at_a_time_and_cancel_works():
    first = jobs._launch("train", py("import time; print('started', flush=True); time.sleep(60)"))
    wait_for(first, ("running",))
    second = jobs._launch("train", py("print('second ran')"))
    time.sleep(1.0)
    assert jobs.status(second).state == "queued", "waits while another job runs"
    assert "stopping" in jobs.cancel(first)
    assert wait_for(first, ("cancelled", "failed", "done")).state == "cancelled"
    assert wait_for(second, ("done",)).state == "done"
    assert "already ended (cancelled)" in jobs.cancel(first)
    assert "already ended (done)" in jobs.cancel(second)


def test_cancel_a_queued_job_never_runs_it():
    first = jobs._launch("train", py("import time; time.sleep(60)"))
    wait_for(first, ("running",))
    queued = jobs._launch("train", py("print('must not run')"))
    assert "before it started" in jobs.cancel(queued)
    jobs.cancel(first)
    wait_for(first, ("cancelled",))
    time.sleep(0.5)
    assert jobs.status(queued).state == "cancelled" and jobs.tail(queued) == ""


def test_job_survives_its_caller(tmp_path):
    # The caller (a short-lived process) starts a job and exits; the job still finishes.
    import subprocess

    code = (
        "from training import jobs; import sys; "
        "print(jobs._launch('train', [sys.executable, '-c', 'import time; time.sleep(1); print(42)']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ},
        cwd=str(jobs.REPO_ROOT),
    )
    job_id = out.stdout.strip()
    assert wait_for(job_id, ("done",)).state == "done" and jobs.tail(job_id, 1) == "42"


def test_bad_kinds_and_ids_are_clear_errors():
    with pytest.raises(BadInputError, match="unknown job kind"):
        jobs.start("rm", ["-rf", "/"])
    with pytest.raises(BadInputError, match="not a job id"):
        jobs.status("../etc")
    with pytest.raises(BadInputError, match="no job"):
        jobs.status("train-20990101-000000-abcd")
