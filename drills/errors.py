"""Drill 4, errors. Lesson: notebooks/04_errors.ipynb.

Give the documents API of DocChat one error shape: 404 {"error": "document_not_found",
"id": ...} from any route, a reshaped 422 for invalid bodies, 201 on create and 204 on
delete. Going further: FastAPI's own 404/405 and any crash in the same {"error": ...} shape.

Check your work with:  docchat-grade drills/errors.py
Stuck on a check?      docchat-grade hint errors.<check>

The grader fills `DOCUMENTS` with its own documents, and adds a route of its own that raises
`DocumentNotFound`: use these module-level names when a request runs.
"""

from uuid import uuid4

from fastapi import FastAPI
from pydantic import BaseModel, Field, field_validator

DOCUMENTS: dict[str, dict] = {
    "welcome": {"id": "welcome", "title": "Welcome to DocChat", "pages": 1},
}


class DocumentNotFound(Exception):
    """Raise it wherever a document id is unknown."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(doc_id)
        self.doc_id = doc_id


class NewDocument(BaseModel):
    title: str
    pages: int = Field(ge=1)

    @field_validator("title")
    @classmethod
    def title_not_blank(cls, title: str) -> str:
        if not title.strip():
            raise ValueError("title must not be blank")
        return title


app = FastAPI(title="DocChat errors")

# TODO: a handler that turns DocumentNotFound, raised from any route, into
#       404 {"error": "document_not_found", "id": <the id>}.
# TODO: a handler for invalid bodies: 422 {"error": "validation_failed", "detail": [...]},
#       each detail with "loc", "msg" and "type".
# TODO (going further): FastAPI's own 404 and 405, and any other exception (500
#       {"error": "internal_error"}, no traceback), in the same {"error": ...} shape.


@app.get("/documents/{doc_id}")
async def get_document(doc_id: str):
    # TODO: raise DocumentNotFound(doc_id) for an unknown id.
    return DOCUMENTS.get(doc_id)


@app.post("/documents")
async def create_document(new: NewDocument):
    # TODO: answer 201 Created.
    doc_id = uuid4().hex
    DOCUMENTS[doc_id] = {"id": doc_id, **new.model_dump()}
    return DOCUMENTS[doc_id]


@app.delete("/documents/{doc_id}")
async def delete_document(doc_id: str):
    # TODO: remove the document (DocumentNotFound if the id is unknown) and answer
    #       204 No Content with an empty body.
    return {"deleted": doc_id}
