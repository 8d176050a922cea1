"""SAE training for censorscope: a thin adapter over SAELens, metrics, dashboards, jobs.

    python -m training train --preset tiny|embedded|qwen3-8b [--FIELD VALUE ...]
    python -m training dashboard --sae DIR

Files, one idea each:
  config.py          TrainConfig (every field documented; the CLI's help) and the presets
  trainer.py         to_runner_config (TrainConfig -> SAELens) and train(): lock, resume, artifact
  runner.py          SAELens's runner + metrics.jsonl rows, held-out evals, full checkpoints
  data.py, corpus.py dataset sources, censorship/control mixing, the offline corpus
  metrics.py         metrics.jsonl and its PNG plots
  dashboard.py       per-feature dashboards (store + load_feature_dashboard), dashboard_html.py
  jobs.py            background jobs with state on disk (start/status/list_jobs/cancel/tail)
"""
