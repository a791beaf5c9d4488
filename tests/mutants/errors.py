"""Buggy error handling: the mistakes learners make, each caught by the check that names it."""

from tests.mutants import Mutant

NOT_FOUND_CONTENT = 'content={"error": "document_not_found", "id": exc.doc_id})'
FIND_RAISES = "        raise DocumentNotFound(doc_id)\n"

MUTANTS = [
    # The GET after a delete is the same unknown-id 404, so deleted_204 sees it too.
    Mutant("http_exception_not_found", "errors.not_found_shape", (
        (FIND_RAISES, '        raise HTTPException(404, "Document not found")\n'),
        ("from fastapi import FastAPI,", "from fastapi import FastAPI, HTTPException,")),
        also=("errors.deleted_204",)),
    # One handler answers every DocumentNotFound, so every 404 of that kind shows the extra key.
    Mutant("extra_key_in_shape", "errors.not_found_shape", (
        (NOT_FOUND_CONTENT, 'content={"error": "document_not_found", "id": exc.doc_id, "status": 404})'),),
        also=("errors.handler_is_global", "errors.deleted_204")),
    Mutant("try_except_in_route", "errors.handler_is_global", (
        ("@app.exception_handler(DocumentNotFound)\n", ""),
        ("    return find(doc_id)\n",
         "    try:\n        return find(doc_id)\n    except DocumentNotFound as exc:\n"
         "        return await document_not_found(request, exc)\n"),
        ("async def get_document(doc_id: str)", "async def get_document(doc_id: str, request: Request)"))),
    # Reads the id from the URL, not from the exception: right only where the route holds it.
    Mutant("id_from_path_params", "errors.handler_is_global", (
        (NOT_FOUND_CONTENT, 'content={"error": "document_not_found", "id": request.path_params["doc_id"]})'),)),
    Mutant("default_422_shape", "errors.validation_shape", (
        ("@app.exception_handler(RequestValidationError)\n", ""),)),
    Mutant("detail_messages_only", "errors.validation_shape", (
        ('    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]\n',
         '    detail = [e["msg"] for e in exc.errors()]\n'),)),
    Mutant("validation_status_400", "errors.validation_shape", (
        ('status_code=422, content={"error": "validation_failed"', 'status_code=400, content={"error": "validation_failed"'),)),
    Mutant("document_wrapped", "errors.found", (
        ("    return find(doc_id)\n", '    return {"document": find(doc_id)}\n'),)),
    # find() reads the import-time dict, and the GET after a delete goes through find() too.
    Mutant("store_default_argument", "errors.found", (
        ("def find(doc_id: str) -> dict:", "def find(doc_id: str, store: dict = DOCUMENTS) -> dict:"),
        ("    if doc_id not in DOCUMENTS:\n", "    if doc_id not in store:\n"),
        ("    return DOCUMENTS[doc_id]\n\n\n@app.get", "    return store[doc_id]\n\n\n@app.get")),
        also=("errors.deleted_204",)),
    Mutant("created_200", "errors.created_201", (
        ('@app.post("/documents", status_code=status.HTTP_201_CREATED)', '@app.post("/documents")'),)),
    Mutant("created_without_id", "errors.created_201", (
        ("    return DOCUMENTS[doc_id]\n\n\n@app.delete", "    return new.model_dump()\n\n\n@app.delete"),)),
    Mutant("same_id_every_time", "errors.created_201", (
        ("    doc_id = uuid4().hex\n", '    doc_id = "new-document"\n'),)),
    # Unique until a delete: the next id is then one already in use.
    Mutant("id_from_count", "errors.created_201", (
        ("    doc_id = uuid4().hex\n", "    doc_id = str(len(DOCUMENTS) + 1)\n"),)),
    Mutant("deleted_200", "errors.deleted_204", (
        ('@app.delete("/documents/{doc_id}", status_code=status.HTTP_204_NO_CONTENT)',
         '@app.delete("/documents/{doc_id}")'),)),
    Mutant("delete_keeps_document", "errors.deleted_204", (
        ("    del DOCUMENTS[doc_id]\n", ""),)),
    # The document asked for is gone, and so is every other one.
    Mutant("delete_clears_store", "errors.deleted_204", (
        ("    del DOCUMENTS[doc_id]\n", "    DOCUMENTS.clear()\n"),)),
    Mutant("errors_sent_raw", "errors.validator_errors_serialise", (
        ('    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]\n',
         "    detail = exc.errors()\n"),)),
    Mutant("handles_fastapi_http_exception", "errors.http_errors_same_shape", (
        ("from starlette.exceptions import HTTPException as StarletteHTTPException\n",
         "from fastapi import HTTPException as StarletteHTTPException\n"),)),
    Mutant("no_internal_error_handler", "errors.unhandled_500", (
        ("@app.exception_handler(Exception)\n", ""),)),
    Mutant("leaks_exception_text", "errors.unhandled_500", (
        ('content={"error": "internal_error"})', 'content={"error": "internal_error", "detail": str(exc)})'),)),
    Mutant("debug_mode", "errors.unhandled_500", (
        ('app = FastAPI(title="DocChat errors")', 'app = FastAPI(title="DocChat errors", debug=True)'),)),
]
