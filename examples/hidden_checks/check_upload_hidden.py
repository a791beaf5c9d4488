"""Hidden checks for the upload drill: a worked example for `docchat-grade batch --checks DIR`.

A hidden check is written like a built-in one (grader/checks/check_upload.py): a function
named `check_*` in a file named `check_*.py`, using the same fixtures (`upload`, `serve`,
`load_learner`, `workdir`) and the same `check` marker. As the manifest does not know it, the
marker also gives its level, title and hint. Its id must start with the drill's name and a
dot: the grader runs it only when grading that drill.
"""

from __future__ import annotations

import pytest

from grader.expect import describe, fail

check = pytest.mark.check
PDF = b"%PDF-1.7\n" + b"the same report, handed in twice\n" * 1024


def post(client, name: str, data: bytes = PDF):
    return client.post("/upload", files={"file": (name, data, "application/pdf")})


@check("upload.hidden_same_pdf_twice", level="core",
       title="The same PDF uploaded twice is saved as two files",
       hint="Two uploads with the same name and bytes are still two jobs. What do you name the "
            "saved file after: something of the upload's own, or something the client chose?")
def check_same_pdf_twice(upload, serve):
    sent = "POST /upload with the same report.pdf (application/pdf, 33 KiB), twice"
    before = upload.saved_files()
    with serve(upload.learner) as client:
        answers = [post(client, "report.pdf") for _ in range(2)]
    if any(a.status_code != 202 for a in answers):
        fail(sent=sent, got=" then ".join(describe(a) for a in answers), expected="202 Accepted both times")
    new = upload.saved_files() - before
    if len(new) != 2:
        fail(sent=sent, got=f"{len(new)} new file(s) under UPLOAD_DIR", expected="two files, one per upload")


@check("upload.hidden_unicode_filename", level="stretch",
       title="A PDF whose name has accents and spaces is accepted",
       hint="Learners' files are called things like 'Résumé final.pdf'. Does anything in your "
            "handler depend on the client's filename being plain ASCII?")
def check_unicode_filename(upload, serve):
    name = "Résumé final ü.pdf"
    with serve(upload.learner) as client:
        answer = post(client, name)
    if answer.status_code != 202:
        fail(sent=f"POST /upload with file={name!r} (application/pdf)", got=describe(answer),
             expected="202 Accepted")
