"""One module per drill: the grader's fakes for its seams, and fixtures that load it."""
