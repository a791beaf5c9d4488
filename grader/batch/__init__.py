"""Instructor mode: grade a folder of submissions in parallel lanes (`docchat-grade batch`)."""

from grader.batch.lanes import default_jobs, main  # noqa: F401
