"""DocChat Workbook's drill grader: pytest checks run against a learner's FastAPI module.

A map of the package (docs/isolation.md tells how the processes trust each other):

- `cli`, `api`: `docchat-grade` and its Python API; `watch`, `progress`, `hints`, `listing`,
  `notebook`, `workbook`, `skeletons`: the learner's loop around the drills.
- `engine/`: grading. `runner` (the grader's side: limits, records, verdicts), `examiner`
  (runs pytest with `plugin`, `session`), `isolation` and `confine` (the sandboxes),
  `apphost` (the only process that runs the learner's code), `remote` and `wire` (the
  examiner's view of it), `forkserver` (warm examiners), `warm` (a lane kept warm across
  grades: a batch's, a `--watch` session's), `sandbox` (limits and processes), `channel`,
  `determinism`, `learner`.
- the checking kit, for built-in and instructors' hidden checks: `expect`, `fixtures`,
  `asgi`, `bodies`, `sse`, `deadline`, `live_server`, `browser`, `files`; `checks/` the
  drills' checks; `fakes/` the drills' seams.
- `formats/`: text, JUnit, Gradescope and GitHub reports; `report`: `Report` and `CheckResult`,
  what grading gives and everything else passes around, and their JSON document (schema 1),
  made or read only where a report is written or read (the JSON output, OUT_DIR, the resume store).
- `batch/`: instructor mode (lanes, intake, policy, writer, cohort, resume, shards, merge).
- `manifest.toml`: the drills in course order, each check's level, title, hints and lesson.
- `dev`: `docchat-grade dev check`, whether every drill has all its parts (docs/contributors.md).
"""

__version__ = "0.1.0"
