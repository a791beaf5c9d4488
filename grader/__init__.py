"""DocChat Workbook's drill grader: pytest checks run against a learner's FastAPI module."""

__version__ = "0.1.0"
