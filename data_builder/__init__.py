"""Dataset builder: censorship prompts, the subject's answers, judgements and control text.

    python -m data_builder build --offline --limit 200   # then: python -m data_builder report

Stages (each resumable; content-derived ids make re-runs add nothing):
  1. prompts   the LLM generator (OpenAI-compatible, default o4-mini), the shipped templates
               (assets/seed: 46 topics, 29 English/Chinese templates), or a user's --prompt-file;
               near-duplicates dropped at a MiniLM cosine threshold (data_builder.dedupe)
  2. answers   the subject answers each prompt (core.generate, batched; reasoning kept apart)
  3. judge     core.judge: LLM judge (default gpt-4.1-mini) or the offline judge
  4. control   neutral text: SlimPajama when reachable, else a local file/folder or assets/seed/control.txt
Everything lives in chroma (core.store): collections prompts, answers, control. The BuildConfig of
the last run is saved as build_config.json beside the store (never an API key).

Export format for SAE training (`python -m data_builder export`, read with
`data_builder.export.load_training_texts(path=None, kinds=None)`): a `datasets.Dataset` saved with
`save_to_disk` at data/export/training_texts, one row per text, columns
  text    the string to train on: prompt + blank line + answer, or a control chunk
  kind    'prompt_answer' | 'control'
  prompt, answer, label, topic, id   provenance (empty for control rows; label 'control')
plus data/export/training_texts.json with the row counts.

For the app: data_builder.report.figures(store) -> dict of plotly figures;
data_builder.browse.table(...) and data_builder.browse.nearest(text, k) for the Dataset tab.
"""
