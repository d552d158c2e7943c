"""Study record routes under /api/v1/study-records."""

import uuid
from datetime import UTC, date
from typing import Annotated, Any

from fastapi import Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from fastapi_pagination import Page

from app.auth.dependencies import CurrentAuthentication, CurrentUser
from app.http.openapi import errors
from app.http.pagination import PageAnswer, PageParams
from app.http.state import JobsDep, SettingsDep
from app.study import exports, stats
from app.study.crud import StudyRecordCRUDRouter
from app.study.cursor import Position, cursor_page
from app.study.dependencies import (
    CursorQueryDep,
    OrderByQuery,
    OwnedExportJob,
    RecordFiltersDep,
    StatsRangeDep,
    Today,
    VisibleOwnerId,
    WritingAuthentication,
    encode_position,
    make_filters,
    owner_scope,
)
from app.study.formats import EXPORTERS
from app.study.schemas import (
    DEFAULT_ORDER_BY,
    ExportFormat,
    ExportJobCreate,
    ExportJobRead,
    StudyRecordCursorPage,
    StudyStats,
)

_MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
# What the download routes declare for 200 (their error answers differ): a file download
# (its `Content-Disposition` declared) whose body is text, so generated clients type it
# (a `str`), not an untyped JSON value. Not `format: binary`: openapi-python-client reads
# a `text/*` answer as text and would wrap that text in a bytes File, which fails.
_FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, CSV or JSON lines as asked (UTF-8 text).",
        "headers": {
            "Content-Disposition": {
                "description": '`attachment; filename="study-records-{owner}-{date}.{format}"`',
                "schema": {"type": "string"},
            }
        },
        "content": {
            "text/csv": {"schema": {"type": "string", "contentMediaType": "text/csv"}},
            "application/x-ndjson": {
                "schema": {"type": "string", "contentMediaType": "application/x-ndjson"}
            },
        },
    }
}


def _download_name(owner_id: uuid.UUID | None, day: date, file_format: str) -> str:
    """The one file name of an export, streamed or made by a job:
    `study-records-{owner id, or all}-{day}.{format}` (a job's day is the one it was asked
    on, in UTC)."""
    scope = "all" if owner_id is None else str(owner_id)
    return f"study-records-{scope}-{day.isoformat()}.{file_format}"


_CURSOR_PAGE = PageAnswer(StudyRecordCursorPage)

# One router for every study record route, the generated ones and these: each router a
# request passes through costs FastAPI a scan of its routes (twice, to match and to handle).
router = StudyRecordCRUDRouter()


@router.get(
    "/stats",
    name="stats",
    summary="Get study statistics",
    responses=errors(401, 422, 503),
)
async def get_stats(owner_id: VisibleOwnerId, dates: StatsRangeDep, today: Today) -> StudyStats:
    """Totals, minutes per subject and per day, and study streaks."""
    return await stats.summarize(owner_id=owner_id, period=dates, today=today)


@router.get(
    "/cursor",
    name="cursor",
    summary="List study records by cursor",
    response_model=StudyRecordCursorPage,
    responses=errors(401, 503),
)
async def list_study_records_by_cursor(
    authentication: CurrentAuthentication, query: CursorQueryDep
) -> Response:
    """Your study records by cursor: every page costs the same however deep."""
    position, params = query.position, query.params
    page = await cursor_page(
        owner_id=owner_scope(authentication),
        filters=query.filters,
        order_by=query.order_by,
        size=params.size,
        position=position,
    )

    def cursor(at: Position | None) -> str | None:
        return encode_position(at) if at is not None else None

    return _CURSOR_PAGE(
        items=page.items,
        params=params,
        current=cursor(position),
        current_backwards=cursor(page.current_backwards),
        next_=cursor(page.next),
        previous=cursor(page.previous),
    )


@router.get(
    "/export",
    name="export",
    summary="Export study records",
    response_class=StreamingResponse,
    responses={**_FILE_ANSWER, **errors(401, 503)},
)
async def export_records(
    user: CurrentUser,
    owner_id: VisibleOwnerId,
    filters: RecordFiltersDep,
    today: Today,
    file_format: Annotated[ExportFormat, Query(alias="format")] = "csv",
    order_by: OrderByQuery = DEFAULT_ORDER_BY,
) -> StreamingResponse:
    """Download your records (with the list filters, in the list's order) as CSV or JSON
    lines."""
    lines = EXPORTERS[file_format](owner_id=owner_id, filters=filters, order_by=order_by)
    filename = _download_name(None if owner_id is None else user.id, today, file_format)
    return StreamingResponse(
        lines,
        media_type=_MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/exports",
    name="create_export_job",
    summary="Start an export job",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(
        401,
        429,
        503,
        descriptions={
            429: "`TOO_MANY_REQUESTS`: the caller already has EXPORT_MAX_ACTIVE_PER_USER "
            "export jobs queued or running.",
            503: "`JOBS_UNAVAILABLE`: the job queue did not take the job (or the database "
            "does not answer); `EXPORT_STORAGE_FULL`: the export disk is below its "
            "free-space floor.",
        },
    ),
)
async def create_export_job(
    *,
    job_in: ExportJobCreate,
    authentication: WritingAuthentication,
    settings: SettingsDep,
    jobs: JobsDep,
    request: Request,
    response: Response,
) -> ExportJobRead:
    """Start an export of your records (with the list filters) to download when it is done."""
    # Whose records from the write's own admission (one session check, not two).
    user, owner_id = authentication.user, owner_scope(authentication)
    filters = make_filters(
        subject=job_in.subject,
        studied_from=job_in.studied_from,
        studied_to=job_in.studied_to,
        q=job_in.q,
    )
    job = await exports.create(
        owner_id=user.id,
        all_owners=owner_id is None,
        export_format=job_in.file_format,
        filters=filters,
        order_by=job_in.order_by,
        jobs=jobs,
        settings=settings,
    )
    response.headers["Location"] = request.url_for("get_export_job", job_id=str(job.id)).path
    return ExportJobRead.model_validate(job)


@router.get(
    "/exports",
    name="list_export_jobs",
    summary="List export jobs",
    responses=errors(401, 503),
)
async def list_export_jobs(user: CurrentUser, params: PageParams) -> Page[ExportJobRead]:
    """Your export jobs, newest first."""
    query = exports.query(owner_id=user.id)
    jobs = await query.offset((params.page - 1) * params.size).limit(params.size)
    total = await query.count()
    return Page[ExportJobRead].create(
        items=[ExportJobRead.model_validate(job) for job in jobs], total=total, params=params
    )


@router.get(
    "/exports/{job_id}",
    name="get_export_job",
    summary="Get an export job",
    responses=errors(401, 404, 503),
)
async def get_export_job(job: OwnedExportJob) -> ExportJobRead:
    """One of your export jobs: its status, and once done its size and expiry."""
    return ExportJobRead.model_validate(job)


@router.get(
    "/exports/{job_id}/download",
    name="download_export_job",
    summary="Download an export file",
    response_class=FileResponse,
    responses={
        **_FILE_ANSWER,
        **errors(
            401,
            404,
            403,
            409,
            410,
            503,
            descriptions={
                403: "`Forbidden`: an export of everyone's records, and the caller is no "
                "longer a superuser.",
                409: "`EXPORT_NOT_READY`: the job is not done (queued, running or failed).",
                410: "`EXPORT_EXPIRED`: the file was kept until `expires_at`, which has passed.",
            },
        ),
    },
)
async def download_export(
    job: OwnedExportJob, user: CurrentUser, settings: SettingsDep
) -> FileResponse:
    """The finished export file."""
    path = exports.download_path(job, settings.EXPORT_DIR, sees_all_owners=user.is_superuser)
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[job.format],
        filename=_download_name(
            None if job.all_owners else job.owner_id,
            job.created_at.astimezone(UTC).date(),
            job.format,
        ),
    )


# The generated `/{item_id}` routes last: they would take /stats, /cursor and /export as ids.
# The list and create routes (the busiest) stay first. The app mounts this under /api/v1.
router.routes.sort(key=lambda route: "{item_id}" in getattr(route, "path", ""))
