"""The statements of app/study/tally.py, written once per dialect: the counts', the total
slots', the subject and day rows' upserts, and the runs' statements (one spelling,
respelled for each dialect's quotes and parameter marks)."""

import re

SQL: dict[str, dict[str, str]] = {
    "postgres": {
        "count": (
            'INSERT INTO "study_record_count" ("owner_id", "records") VALUES ($1, $2) '
            'ON CONFLICT ("owner_id") DO UPDATE '
            'SET "records" = "study_record_count"."records" + EXCLUDED."records"'
        ),
        "total": (
            'INSERT INTO "study_record_total" ("slot", "records") VALUES ($1, $2) '
            'ON CONFLICT ("slot") DO UPDATE '
            'SET "records" = "study_record_total"."records" + EXCLUDED."records"'
        ),
        "subject": (
            'INSERT INTO "study_subject" ("owner_id", "subject", "minutes", "records") '
            "VALUES ($1, $2, $3, $4) "
            'ON CONFLICT ("owner_id", "subject") DO UPDATE '
            'SET "minutes" = "study_subject"."minutes" + EXCLUDED."minutes", '
            '"records" = "study_subject"."records" + EXCLUDED."records"'
        ),
        "subject_gone": (
            'DELETE FROM "study_subject" WHERE "owner_id" = $1 AND "subject" = $2 '
            'AND "records" <= 0'
        ),
        "day": (
            'INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records") '
            "VALUES ($1, $2, $3, $4, $5) "
            'ON CONFLICT ("owner_id", "studied_on", "subject") DO UPDATE '
            'SET "minutes" = "study_day"."minutes" + EXCLUDED."minutes", '
            '"records" = "study_day"."records" + EXCLUDED."records"'
        ),
        "day_gone": (
            'DELETE FROM "study_day" WHERE "owner_id" = $1 AND "studied_on" = $2 '
            'AND "subject" = $3 AND "records" <= 0'
        ),
        "owner_count": (
            'SELECT "records" FROM "study_record_count" WHERE "owner_id" = $1 FOR UPDATE'
        ),
    },
    "sqlite": {
        "count": (
            'INSERT INTO "study_record_count" ("owner_id", "records") VALUES (?, ?) '
            'ON CONFLICT ("owner_id") DO UPDATE SET "records" = "records" + excluded."records"'
        ),
        "total": (
            'INSERT INTO "study_record_total" ("slot", "records") VALUES (?, ?) '
            'ON CONFLICT ("slot") DO UPDATE SET "records" = "records" + excluded."records"'
        ),
        "subject": (
            'INSERT INTO "study_subject" ("owner_id", "subject", "minutes", "records") '
            "VALUES (?, ?, ?, ?) "
            'ON CONFLICT ("owner_id", "subject") DO UPDATE '
            'SET "minutes" = "minutes" + excluded."minutes", '
            '"records" = "records" + excluded."records"'
        ),
        "subject_gone": (
            'DELETE FROM "study_subject" WHERE "owner_id" = ? AND "subject" = ? AND "records" <= 0'
        ),
        "day": (
            'INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records") '
            "VALUES (?, ?, ?, ?, ?) "
            'ON CONFLICT ("owner_id", "studied_on", "subject") DO UPDATE '
            'SET "minutes" = "minutes" + excluded."minutes", '
            '"records" = "records" + excluded."records"'
        ),
        "day_gone": (
            'DELETE FROM "study_day" WHERE "owner_id" = ? AND "studied_on" = ? '
            'AND "subject" = ? AND "records" <= 0'
        ),
        # SQLite has no row locks: its writers take turns for the whole database.
        "owner_count": 'SELECT "records" FROM "study_record_count" WHERE "owner_id" = ?',
    },
    "mysql": {
        "count": (
            "INSERT INTO `study_record_count` (`owner_id`, `records`) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE `records` = `records` + VALUES(`records`)"
        ),
        "total": (
            "INSERT INTO `study_record_total` (`slot`, `records`) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE `records` = `records` + VALUES(`records`)"
        ),
        "subject": (
            "INSERT INTO `study_subject` (`owner_id`, `subject`, `minutes`, `records`) "
            "VALUES (%s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE `minutes` = `minutes` + VALUES(`minutes`), "
            "`records` = `records` + VALUES(`records`)"
        ),
        "subject_gone": (
            "DELETE FROM `study_subject` WHERE `owner_id` = %s AND `subject` = %s "
            "AND `records` <= 0"
        ),
        "day": (
            "INSERT INTO `study_day` (`owner_id`, `studied_on`, `subject`, `minutes`, `records`) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE `minutes` = `minutes` + VALUES(`minutes`), "
            "`records` = `records` + VALUES(`records`)"
        ),
        "day_gone": (
            "DELETE FROM `study_day` WHERE `owner_id` = %s AND `studied_on` = %s "
            "AND `subject` = %s AND `records` <= 0"
        ),
        "owner_count": (
            "SELECT `records` FROM `study_record_count` WHERE `owner_id` = %s FOR UPDATE"
        ),
    },
}


# The statements that keep the runs are plain SQL every dialect shares but for its quotes
# and parameter marks: written once in PostgreSQL's spelling, respelled below.
_RUN_SQL = {
    # The run holding or next to a day: the first two with last_day >= the day before it.
    "runs_near": (
        'SELECT "id", "first_day", "last_day" FROM "study_run" '
        'WHERE "owner_id" = $1 AND "last_day" >= $2 ORDER BY "last_day" LIMIT 2'
    ),
    "run_add": (
        'INSERT INTO "study_run" ("owner_id", "first_day", "last_day", "length") '
        "VALUES ($1, $2, $3, $4)"
    ),
    "run_set": (
        'UPDATE "study_run" SET "first_day" = $1, "last_day" = $2, "length" = $3 WHERE "id" = $4'
    ),
    "run_gone": 'DELETE FROM "study_run" WHERE "id" = $1',
    # Whether a day still has a record of the user's (in any subject), off the rollup's key.
    "day_left": (
        'SELECT "records" FROM "study_day" WHERE "owner_id" = $1 AND "studied_on" = $2 LIMIT 1'
    ),
}


def _respelled(sql: str, dialect: str) -> str:
    if dialect == "postgres":
        return sql
    if dialect == "mysql":
        sql = sql.replace('"', "`")
    return re.sub(r"\$\d+", "%s" if dialect == "mysql" else "?", sql)


for _spelling, _statements in SQL.items():
    _statements.update({name: _respelled(sql, _spelling) for name, sql in _RUN_SQL.items()})
