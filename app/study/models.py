"""What a user studied, when, and for how long; and the counts kept beside the records.

The counts (`StudyRecordCount`, `StudyRecordTotal`), the per-day, per-subject rollup
(`StudyDay`), the per-subject totals (`StudySubject`) and the runs of consecutive days
(`StudyRun`) change in the same transaction as every write to `StudyRecord` (see
app/study/tally.py), so the list's total and the statistics read a few kept rows instead of
every record or day of a user.
"""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class StudyRecord(Model):
    id = fields.IntField(primary_key=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="study_records", on_delete=fields.CASCADE
    )
    subject = fields.CharField(max_length=100)
    title = fields.CharField(max_length=200)
    minutes = fields.IntField()
    studied_on = fields.DateField()
    notes = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "study_record"
        # One index per sort key of the list and the cursor, for a user and for a superuser
        # (all records): `id` last breaks ties, so a page (and a cursor's next page) is read
        # straight off the index however deep it is.
        indexes = (
            ("owner_id", "studied_on", "id"),
            ("owner_id", "minutes", "id"),
            ("owner_id", "created_at", "id"),
            ("owner_id", "subject"),
            ("studied_on", "id"),
            ("minutes", "id"),
            ("created_at", "id"),
        )

    def __str__(self) -> str:
        return f"{self.subject}: {self.title}"


class StudyRecordCount(Model):
    """How many records one user has (the row appears with the first one)."""

    id = fields.IntField(primary_key=True)
    owner = fields.OneToOneField(
        "models.User", related_name="study_record_count", on_delete=fields.CASCADE
    )
    records = fields.IntField(default=0)

    class Meta:
        table = "study_record_count"


class StudyRecordTotal(Model):
    """All records, in a few slots (by owner) so that writers of different users rarely
    wait for one row; the total is the sum of the slots."""

    slot = fields.SmallIntField(primary_key=True, generated=False)
    records = fields.BigIntField(default=0)

    class Meta:
        table = "study_record_total"


class StudyDay(Model):
    """Minutes and records of one user, day and subject; a row exists while records do."""

    id = fields.BigIntField(primary_key=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="study_days", on_delete=fields.CASCADE
    )
    studied_on = fields.DateField()
    # Compared code point by code point on every database (utf8mb4_bin on MySQL, set in the
    # migration), as the statistics group subjects.
    subject = fields.CharField(max_length=100)
    minutes = fields.BigIntField(default=0)
    records = fields.IntField(default=0)

    class Meta:
        table = "study_day"
        unique_together = (("owner", "studied_on", "subject"),)


class StudySubject(Model):
    """Minutes and records of one user and subject over every day; a row exists while
    records do. The stats without a range read these, one row per subject."""

    id = fields.BigIntField(primary_key=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="study_subjects", on_delete=fields.CASCADE
    )
    # Compared code point by code point, as in StudyDay (utf8mb4_bin on MySQL).
    subject = fields.CharField(max_length=100)
    minutes = fields.BigIntField(default=0)
    records = fields.IntField(default=0)

    class Meta:
        table = "study_subject"
        unique_together = (("owner", "subject"),)


class StudyRun(Model):
    """A streak: a run of consecutive days on each of which the user has a record, from
    `first_day` to `last_day` (`length` days), with no record the day before or after.
    A user's runs never touch or overlap; they change when a day gains its first record
    (a run grows, two merge, or one starts) or loses its last (one shrinks, splits or goes)."""

    id = fields.BigIntField(primary_key=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="study_runs", on_delete=fields.CASCADE
    )
    first_day = fields.DateField()
    last_day = fields.DateField()
    length = fields.IntField()

    class Meta:
        table = "study_run"
        # (owner, last_day): the runs next to a day, and the one ending today or yesterday;
        # (owner, length): the longest.
        unique_together = (("owner", "last_day"),)
        indexes = (("owner_id", "length"),)


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ACTIVE_EXPORT_STATUSES = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class ExportJob(Model):
    """One export a user asked for; a worker writes its file under EXPORT_DIR."""

    id = fields.UUIDField(primary_key=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="export_jobs", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(ExportStatus, max_length=8, default=ExportStatus.QUEUED)
    format = fields.CharField(max_length=5)
    # The list filters as given (ISO dates); `all_owners` when a superuser asked.
    filters = fields.JSONField(default=dict)
    all_owners = fields.BooleanField(default=False)
    rows = fields.IntField(null=True)
    bytes = fields.BigIntField(null=True)
    error = fields.CharField(max_length=200, null=True)
    # Which try owns the job now: a worker that took it over from a killed one changes it,
    # and only the owning try may mark the job done or failed.
    attempt = fields.CharField(max_length=32, null=True)
    attempts = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "export_job"
        # The owner's jobs newest first, and its active ones counted, off one index each.
        indexes = (("owner_id", "created_at"), ("owner_id", "status"))

    @property
    def file_name(self) -> str:
        return f"{self.id}.{self.format}"
