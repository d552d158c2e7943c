"""fastapi-crudrouter's TortoiseCRUDRouter, with what the unmaintained library gets wrong fixed.

The library (pinned at 0.8.6) generates GET/POST "" and GET/PUT/DELETE "/{item_id}" (and a
delete-all), but its route factories: answer everyone with every row; call pydantic's
deprecated `.dict()`; take `item_id: int` unbounded, so a huge id reaches the database
(500 on PostgreSQL); page with skip/limit into a bare list; answer 200 to a create. The
factories below replace all of them: every route needs an active user and sees only the
caller's records (all for a superuser), another user's id answers 404 like a missing one,
the list is a fastapi-pagination Page with filters, create answers 201, PATCH is added and
delete-all is never registered. tests/study/test_generated_routes.py walks every route.
"""

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response, params, status
from fastapi_crudrouter import TortoiseCRUDRouter
from fastapi_pagination import Page, Params

from app.auth.dependencies import (
    Authentication,
    CurrentAuthentication,
    authenticate,
    bearer_scheme,
)
from app.http.direct import DirectRoute, direct, json_body
from app.http.openapi import errors
from app.http.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, PageAnswer
from app.http.routing import GatedRouter
from app.study import records
from app.study.dependencies import (
    ListQueryDep,
    OwnedRecord,
    WritableRecord,
    WritingAuthentication,
    count_write,
    owner_scope,
)
from app.study.models import StudyRecord
from app.study.pages import page_of
from app.study.records import NO_FILTERS, RecordFilters
from app.study.schemas import (
    DEFAULT_ORDER_BY,
    OrderBy,
    StudyRecordCreate,
    StudyRecordRead,
    StudyRecordUpdate,
)

Route = Callable[..., Coroutine[Any, Any, Any]]

_PAGE = PageAnswer(Page[StudyRecordRead])


async def create_directly(request: Request) -> Response | None:
    """The create with a valid JSON body, answered without FastAPI's request handler
    (app/http/direct.py): the same steps in the same order as the declared route below,
    whose dependency `count_write` admits and counts the write (401, 429), then the
    record is written and answered as the read model's bytes, validated once."""
    record_in = await json_body(request, StudyRecordCreate)
    if record_in is None:
        return None  # FastAPI's handler answers, with its 422
    authentication = await count_write(request, await bearer_scheme(request))
    created = await records.create_read(owner_id=authentication.user.id, record_in=record_in)
    return Response(
        created.__pydantic_serializer__.to_json(created, by_alias=True),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


def _plain_number(text: str | None, default: int, highest: int) -> int | None:
    """A page or size as FastAPI would read it when it is plain digits within 1..`highest`
    (absent: `default`); None for anything else, which FastAPI parses or refuses itself."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) > 7:
        return None
    number = int(text)
    return number if number <= highest else None


async def list_directly(request: Request) -> Response | None:
    """The list's usual request, the unfiltered page in the default order (no query
    parameter but `page` and `size`, each at most once, as plain numbers in bounds),
    answered without FastAPI's request handler (app/http/direct.py): its dependency tree
    cost the list a fifth of the app's time. The same steps as the declared route below:
    the caller admitted as `authenticate` admits it (401), then the page. Anything else
    (filters, an order, a value FastAPI must parse or refuse) is FastAPI's to answer."""
    query = request.query_params  # parsed once: the route's unknown-parameter rule read it
    if len(query) != len(query.multi_items()) or not query.keys() <= {"page", "size"}:
        return None
    page = _plain_number(query.get("page"), 1, MAX_PAGE)
    size = _plain_number(query.get("size"), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if page is None or size is None:
        return None
    authentication = await authenticate(request, await bearer_scheme(request))
    return await _list_page(authentication, NO_FILTERS, DEFAULT_ORDER_BY, page, size)


async def _list_page(
    authentication: Authentication, filters: RecordFilters, order_by: OrderBy, page: int, size: int
) -> Response:
    rows, total = await page_of(
        owner_id=owner_scope(authentication),
        filters=filters,
        order_by=order_by,
        offset=(page - 1) * size,
        limit=size,
    )
    return _PAGE(items=rows, total=total, params=Params(page=page, size=size))


class StudyRecordCRUDRouter(GatedRouter, TortoiseCRUDRouter):
    """The generated study record routes, scoped to the caller."""

    def __init__(self, **kwargs: Any) -> None:
        # Options the library does not take, keyed by (path, method) of the generated route:
        # the name (which makes the operation id, `study_records-list`) and the error
        # answers each really gives (the library declared a bare 404 without a schema).
        self._route_options: dict[tuple[str, str], dict[str, Any]] = {
            ("", "GET"): {
                "name": "list",
                "summary": "List study records",
                "response_model": Page[StudyRecordRead],
                "responses": errors(401, 503),
                "route_class_override": DirectRoute,
            },
            ("", "POST"): {
                "name": "create",
                "summary": "Create a study record",
                "status_code": status.HTTP_201_CREATED,
                "responses": errors(401, 429, 503),
                "route_class_override": DirectRoute,
            },
            ("/{item_id}", "GET"): {
                "name": "get",
                "summary": "Get a study record",
                "responses": errors(401, 404, 503),
            },
            ("/{item_id}", "PUT"): {
                "name": "replace",
                "summary": "Replace a study record",
                "responses": errors(401, 404, 429, 503),
            },
            ("/{item_id}", "PATCH"): {
                "name": "patch",
                "summary": "Update a study record",
                "responses": errors(401, 404, 429, 503),
            },
            ("/{item_id}", "DELETE"): {
                "name": "delete",
                "summary": "Delete a study record",
                "responses": errors(401, 404, 429, 503),
            },
        }
        super().__init__(
            schema=StudyRecordRead,
            db_model=StudyRecord,
            # Given explicitly: the library's schema_factory reads the deprecated `__fields__`.
            create_schema=StudyRecordCreate,
            update_schema=StudyRecordCreate,  # PUT replaces every input field
            prefix="study-records",
            tags=["Study records"],
            delete_all_route=False,
            # No router-wide user dependency: every route takes the user itself, and FastAPI
            # would walk that dependency's tree a second time on every request. Instead
            # tests/study/test_generated_routes.py fails if any study record route's own
            # dependencies do not reach `authenticate` (and if one answers anonymous callers).
            **kwargs,
        )
        self._add_api_route(
            "/{item_id}",
            self._patch(),
            methods=["PATCH"],
            response_model=self.schema,
            dependencies=True,
        )

    def _add_api_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        dependencies: bool | Sequence[params.Depends],
        error_responses: Any = None,
        **kwargs: Any,
    ) -> None:
        # The library's version turns `error_responses` into response entries without a
        # schema; the options above declare them properly instead.
        del error_responses
        for method in kwargs.get("methods", ()):
            kwargs.update(self._route_options[(path, method)])
        APIRouter.add_api_route(
            self,
            path,
            endpoint,
            dependencies=[] if isinstance(dependencies, bool) else dependencies,
            **kwargs,
        )

    def _get_all(self, *args: Any, **kwargs: Any) -> Route:
        @direct(list_directly)
        async def list_study_records(
            authentication: CurrentAuthentication, query: ListQueryDep
        ) -> Response:
            """Your study records, a page at a time, filtered and ordered."""
            page = query.params
            return await _list_page(
                authentication, query.filters, query.order_by, page.page, page.size
            )

        return list_study_records

    def _get_one(self, *args: Any, **kwargs: Any) -> Route:
        async def get_study_record(record: OwnedRecord) -> StudyRecord:
            """One of your study records."""
            return record

        return get_study_record

    def _create(self, *args: Any, **kwargs: Any) -> Route:
        @direct(create_directly)
        async def create_study_record(
            record_in: StudyRecordCreate, authentication: WritingAuthentication
        ) -> StudyRecord:
            """Log a study session; it is yours whatever the body says."""
            # The authentication itself, not its user through one more dependency node.
            return await records.create(owner_id=authentication.user.id, record_in=record_in)

        return create_study_record

    def _update(self, *args: Any, **kwargs: Any) -> Route:
        return self._updating(
            StudyRecordCreate,
            "Replace every input field of one of your records (left-out ones get defaults).",
        )

    def _patch(self) -> Route:
        return self._updating(
            StudyRecordUpdate, "Change only the given fields of one of your records."
        )

    @staticmethod
    def _updating(body: type[StudyRecordCreate | StudyRecordUpdate], description: str) -> Route:
        """PUT and PATCH differ only in the body they take (and so in what `update` changes);
        a record another request deleted meanwhile answers 404 like a missing one."""

        async def update_study_record(record: WritableRecord, record_in: body) -> StudyRecord:  # type: ignore[valid-type]
            return await records.update(record=record, record_in=record_in)

        # FastAPI reads the operation's description from the docstring.
        update_study_record.__doc__ = description
        return update_study_record

    def _delete_one(self, *args: Any, **kwargs: Any) -> Route:
        async def delete_study_record(record: WritableRecord) -> StudyRecord:
            """Delete one of your records; answers it as it was."""
            return await records.delete(record=record)

        return delete_study_record

    def _delete_all(self, *args: Any, **kwargs: Any) -> Route:
        raise NotImplementedError("there is no delete-all: DELETE /study-records answers 405")
