"""The grading engine: runner, sandbox, examiner, app host, report channel."""
