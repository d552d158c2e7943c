"""The study domain's errors (answered by app/http/errors.py with their status and detail)."""

from app.platform.errors import DomainError, NotFound

# Records and export jobs answer alike whether missing or someone else's.
NOT_FOUND_DETAIL = "Item not found"


class StudyRecordNotFound(NotFound):
    """No such record for this owner: it does not exist, belongs to someone else, or another
    request deleted it after this one loaded it."""

    detail = NOT_FOUND_DETAIL


class ExportJobNotFound(NotFound):
    """No such job for this owner: it does not exist or belongs to someone else."""

    detail = NOT_FOUND_DETAIL


class TooManyExports(DomainError):
    """The owner already has EXPORT_MAX_ACTIVE_PER_USER jobs queued or running."""

    status_code = 429
    detail = "TOO_MANY_REQUESTS"


class ExportNotReady(DomainError):
    """The job has not finished (or failed): there is no file yet."""

    status_code = 409
    detail = "EXPORT_NOT_READY"


class ExportExpired(DomainError):
    """The job's file was kept until `expires_at`, which has passed."""

    status_code = 410
    detail = "EXPORT_EXPIRED"


class ExportStorageFull(DomainError):
    """EXPORT_DIR's disk has less free space than EXPORT_MIN_FREE_BYTES: no new export."""

    status_code = 503
    detail = "EXPORT_STORAGE_FULL"


class ExportForbidden(DomainError):
    """An export of everyone's records, asked for by a caller no longer a superuser."""

    status_code = 403
    detail = "Forbidden"
