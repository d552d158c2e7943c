"""What a user studied, when, and for how long."""

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
        # The list, stats and export queries all filter by owner and range over dates; `id`
        # last lets the default order (studied_on, then id) read a page straight off the index.
        indexes = (("owner_id", "studied_on", "id"), ("owner_id", "subject"))

    def __str__(self) -> str:
        return f"{self.subject}: {self.title}"
