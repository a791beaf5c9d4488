"""Report formats: text, JUnit XML, Gradescope, GitHub annotations."""
