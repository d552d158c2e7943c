"""One row per request that reached the service."""

from tortoise import fields
from tortoise.models import Model

# MySQL's index key is at most 3072 bytes (768 utf8mb4 characters); longer paths are cut.
PATH_MAX_LENGTH = 512
QUERY_MAX_LENGTH = 2048
USER_AGENT_MAX_LENGTH = 256
ROUTE_MAX_LENGTH = 255


class AuditLog(Model):
    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField()
    request_id = fields.CharField(max_length=128)
    method = fields.CharField(max_length=16)
    # The path prefix filter's index on MySQL and SQLite; PostgreSQL has a text_pattern_ops
    # one instead (migration 7), and migration 12 drops this one there.
    path = fields.CharField(max_length=PATH_MAX_LENGTH, db_index=True)
    route = fields.CharField(max_length=ROUTE_MAX_LENGTH, null=True)
    query = fields.CharField(max_length=QUERY_MAX_LENGTH, default="")
    status_code = fields.SmallIntField()
    duration_ms = fields.FloatField()
    client_ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=USER_AGENT_MAX_LENGTH, null=True)
    # Not a foreign key: rows outlive their user (deregistration clears this) and a batch
    # insert must never fail because a user was deleted while its rows sat in the queue.
    user_id = fields.UUIDField(null=True)
    response_bytes = fields.BigIntField(default=0)

    class Meta:
        table = "audit_log"
        # Every page is newest first, (created_at, id) descending: each filter's index ends
        # in that order, so a filtered page reads its rows in order and stops at the page's
        # end instead of sorting every match (the single-column indexes these replace did),
        # and its capped count reads the index alone, at most 10,001 entries of it.
        indexes = (
            ("created_at", "id"),
            ("user_id", "created_at", "id"),
            ("route", "created_at", "id"),
            ("status_code", "created_at", "id"),
            ("method", "created_at", "id"),
        )

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code}"


class AuditDayCount(Model):
    """The audit entries of one UTC day, counted by triggers on audit_log (migration 11).

    The triggers add every inserted row and take away every deleted one in the statement's
    own transaction, so the count is exact under any number of writers and whatever writes
    (the writer's COPY, an ORM insert, a purge's batch delete). The purge deletes a day's
    row with the day; the unfiltered list's total is the sum of the rows."""

    day = fields.DateField(primary_key=True)
    entries = fields.BigIntField(default=0)

    class Meta:
        table = "audit_day_count"

    def __str__(self) -> str:
        return f"{self.day}: {self.entries}"
