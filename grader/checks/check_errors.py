"""Checks for drill 4, one error shape for the whole API (docs/contract.md).

Checks about what a real server sends (crashes, handlers for the grader's own routes) use
`raise_server_exceptions=False`: otherwise TestClient re-raises the exception into the check
even when a handler has already answered.
"""

from __future__ import annotations

import copy

import pytest

from grader.fakes.errors import SEEDS
from grader.expect import compact, describe, expect_json, fail, fail_json, json_body, json_or_text, trim

check = pytest.mark.check
NEW_DOCUMENT = {"title": "Quarterly results", "pages": 7}
VALIDATION_SHAPE = '{"error": "validation_failed", "detail": [{"loc": [...], "msg": "...", "type": "..."}, ...]}'


def not_found_body(doc_id: str) -> dict:
    return {"error": "document_not_found", "id": doc_id}


def post_sent(body) -> str:
    return f"POST /documents with JSON {compact(body)}"


def expect_validation_shape(response, *, sent: str, field: str, note: str = "") -> None:
    """422 and exactly {"error", "detail"}, each detail with loc, msg, type; one about `field`."""
    body = json_or_text(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    items_ok = (isinstance(detail, list) and detail
                and all(isinstance(d, dict) and isinstance(d.get("loc"), list)
                        and isinstance(d.get("msg"), str) and isinstance(d.get("type"), str)
                        for d in detail))
    # Compare against the learner's own detail when it is well formed, so only what is
    # wrong shows as different.
    expected = {"error": "validation_failed",
                "detail": detail if items_ok else "[{loc, msg, type}, ...]"}
    if response.status_code != 422 or body != expected:
        fail_json(sent=sent, response=response, status=422, body=expected, note=note,
                  shape=VALIDATION_SHAPE)
    if not any(field in d["loc"] for d in detail):
        fail(sent=sent, got=f"422 with detail locations {[d['loc'] for d in detail]}",
             expected=f"a detail whose `loc` names the field {field!r}")


@check("errors.not_found_shape")
def check_not_found_shape(errors, serve):
    with serve(errors.learner) as client:
        for doc_id in ("no-such-document", "missing-42"):
            sent = f"GET /documents/{doc_id} (an id not in DOCUMENTS)"
            response = client.get(f"/documents/{doc_id}")
            expect_json(response, sent=sent, status=404, body=not_found_body(doc_id))


@check("errors.handler_is_global")
def check_handler_is_global(errors, serve):
    # The id is only in the exception: one probe has no path parameter, the other holds a
    # different id, so a handler must read `exc.doc_id` (not the URL) to answer right.
    doc_id = "raised-elsewhere"

    async def no_id_in_path():
        raise errors.make_not_found(doc_id)

    async def other_id_in_path(doc_id: str):
        raise errors.make_not_found("raised-elsewhere")

    probes = [(errors.add_route("/raises-not-found", no_id_in_path), ""),
              (errors.add_route("/lookup/{doc_id}", other_id_in_path).format(doc_id="another-id"),
               ", its path holding another id")]
    with serve(errors.learner, raise_server_exceptions=False) as client:
        for path, where in probes:
            sent = (f"GET {path}, a route the grader added to your app{where}, that raises "
                    f"DocumentNotFound({doc_id!r})")
            response = client.get(path)
            expect_json(response, sent=sent, status=404, body=not_found_body(doc_id),
                        note="the grader's route has no try/except: only a handler registered on the "
                        "app can answer (a 500 means none did, or it crashed), and the id is the "
                        "exception's `doc_id`, wherever it was raised")


@check("errors.validation_shape")
def check_validation_shape(errors, serve):
    invalid = ((dict(NEW_DOCUMENT, pages=0), "pages"), ({"title": "Quarterly results"}, "pages"),
               (dict(NEW_DOCUMENT, pages="many"), "pages"), ({"pages": 3}, "title"))
    with serve(errors.learner) as client:
        for body, field in invalid:
            response = client.post("/documents", json=body)
            expect_validation_shape(response, sent=post_sent(body), field=field)


@check("errors.found")
def check_found(errors, serve):
    with serve(errors.learner) as client:
        for doc_id, document in SEEDS.items():
            sent = f"GET /documents/{doc_id} (in DOCUMENTS: {compact(document)})"
            response = client.get(f"/documents/{doc_id}")
            body = json_body(response, sent=sent)
            errors.expect_store_used(sent=sent, body=body)
            if response.status_code != 200 or not _holds(body, document):
                fail_json(sent=sent, response=response, status=200, body=document)


def _holds(body, document: dict) -> bool:
    return isinstance(body, dict) and all(body.get(k) == v for k, v in document.items())


@check("errors.created_201")
def check_created_201(errors, serve):
    ids = []
    with serve(errors.learner) as client:
        for title in ("Quarterly results", "Board minutes", "After a delete"):
            if len(ids) == 2:
                # An id scheme must hold after a delete too (a count of documents would not).
                client.delete(f"/documents/{ids[0]}")
            sent_body = dict(NEW_DOCUMENT, title=title)
            sent = post_sent(sent_body) + (f", after DELETE /documents/{ids[0]}" if len(ids) == 2 else "")
            before = copy.deepcopy(errors.store)
            response = client.post("/documents", json=sent_body)
            body = json_body(response, sent=sent)
            errors.expect_store_used(sent=sent, body=body)
            new_id = body.get("id") if isinstance(body, dict) else None
            id_ok = isinstance(new_id, str) and new_id
            if response.status_code != 201 or not _holds(body, sent_body) or not id_ok:
                fail_json(sent=sent, response=response, status=201,
                          body={"id": new_id if id_ok else "<the new id, a string>", **sent_body},
                          shape=f'{{"id": "<the new id>", {compact(sent_body)[1:]}')
            if new_id in before or new_id in ids:
                fail(sent=sent, got=f"{describe(response)}; the id {new_id!r} was already used, by "
                     f"{trim(compact(before.get(new_id, 'an earlier document')), 120)}",
                     expected="a new id, never used before: existing documents stay as they were",
                     note="an id made from a count of documents repeats once one is deleted"
                     if len(ids) == 2 else "")
            if not _holds(errors.store.get(new_id), sent_body):
                fail(sent=sent, got=f"{describe(response)}; DOCUMENTS[{new_id!r}] is "
                     f"{trim(compact(errors.store.get(new_id)), 120)}",
                     expected="the new document stored in DOCUMENTS under its id")
            changed = sorted(k for k in before if errors.store.get(k) != before[k])
            if changed:
                fail(sent=sent, got=f"{describe(response)}; existing document(s) changed: "
                     + ", ".join(map(repr, changed)), expected="only the new document added")
            ids.append(new_id)


@check("errors.deleted_204")
def check_deleted_204(errors, serve):
    doc_id = "seed-handbook"
    sent = f"DELETE /documents/{doc_id} (in DOCUMENTS)"
    with serve(errors.learner) as client:
        response = client.delete(f"/documents/{doc_id}")
        errors.expect_store_used(sent=sent)
        if response.status_code != 204 or response.content:
            fail(sent=sent, got=describe(response), expected="204 No Content with an empty body")
        sent = f"GET /documents/{doc_id} after it was deleted"
        after = client.get(f"/documents/{doc_id}")
        errors.expect_store_used(sent=sent, body=after.text)
        expect_json(after, sent=sent, status=404, body=not_found_body(doc_id))
        # Only that document goes: the others are still there.
        for other in sorted(set(SEEDS) - {doc_id}):
            sent = f"GET /documents/{other} after DELETE /documents/{doc_id}"
            response = client.get(f"/documents/{other}")
            if response.status_code != 200:
                fail(sent=sent, got=describe(response),
                     expected=f"200 and the document: only {doc_id!r} was deleted")


@check("errors.validator_errors_serialise")
def check_validator_errors_serialise(errors, serve):
    body = dict(NEW_DOCUMENT, title="   ")
    with serve(errors.learner, raise_server_exceptions=False) as client:
        response = client.post("/documents", json=body)
    note = ("a 500 here means the app crashed while building the 422 answer"
            if response.status_code == 500 else "")
    expect_validation_shape(response, sent=post_sent(body) + " (a blank title)", field="title", note=note)


@check("errors.http_errors_same_shape")
def check_http_errors_same_shape(errors, serve):
    with serve(errors.learner, raise_server_exceptions=False) as client:
        for method, path, status, why in (("GET", "/no-such-route", 404, "an unknown route"),
                                          ("PATCH", "/documents/seed-handbook", 405, "a method the route lacks")):
            response = client.request(method, path)
            sent = f"{method} {path} ({why})"
            body = json_body(response, sent=sent) if response.text else None
            error = body.get("error") if isinstance(body, dict) else None
            if response.status_code != status or not isinstance(error, str) or not error:
                fail(sent=sent, got=describe(response),
                     expected=f'{status} with a JSON body carrying {{"error": "<what went wrong>", ...}}')


@check("errors.unhandled_500")
def check_unhandled_500(errors, serve):
    secret = "grader-secret-7c1f"

    async def grader_route():
        raise RuntimeError(f"{secret}: the database password is hunter2")

    path = errors.add_route("/crashes", grader_route)
    sent = f"GET {path}, a route the grader added to your app that raises RuntimeError"
    with serve(errors.learner, raise_server_exceptions=False) as client:
        response = client.get(path)
    leaks = [w for w in (secret, "Traceback", "RuntimeError") if w in response.text]
    if leaks:
        fail(sent=sent, got=f"{describe(response)} (it shows {', '.join(map(repr, leaks))})",
             expected='500 with {"error": "internal_error"}: no exception text or traceback')
    expect_json(response, sent=sent, status=500, body={"error": "internal_error"})
