"""Migration 9_20261206070000_audit_partitions.

Written by hand: partitions are beyond what aerich and the models describe (the models are
unchanged, MODELS_STATE is migration 8's). The audit trail is kept in one partition per
UTC day, so retention drops whole days and a page reads only the days it needs.

PostgreSQL: the existing table becomes the first partition, `audit_log_legacy`, covering
everything before its bound (the day after its newest row, or today when it is empty or
older), without copying a row: it is renamed, a CHECK proves its bound so ATTACH does not
scan it for the range, and the new parent's indexes adopt its indexes; only the primary
key (id, created_at), which a partitioned table needs, is built over its rows (in place of
its key on id alone). The id
sequence carries on. One partition per day follows from the bound up to 14 days ahead;
`app/audit/partitions.py` keeps that window from then on (`run.py db upgrade`, the hourly
job, and the writer for a day that is missing).

MySQL/MariaDB: InnoDB stores rows in primary-key order, so the key (id, created_at) rebuilds
the table once (there is no way around that on InnoDB); `p_legacy` holds the rows before
the bound, one partition per day follows up to 14 days ahead, and `p_future` (MAXVALUE)
takes anything later, so an insert never fails there (a metric watches it).

SQLite: one table, unchanged.

The downgrade copies the rows back into a plain table.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

AHEAD_DAYS = 14

# name → columns, as migrations 7 and 8 made them; the parent's indexes keep the names.
POSTGRES_INDEXES = {
    "idx_audit_log_created_73913f": '("created_at", "id")',
    "idx_audit_log_path_39c3ce": '("path")',
    "idx_audit_log_path_prefix": '("path" text_pattern_ops)',
    "idx_audit_log_route_2998ac": '("route", "created_at", "id")',
    "idx_audit_log_status__04635f": '("status_code", "created_at", "id")',
    "idx_audit_log_user_id_103197": '("user_id", "created_at", "id")',
}


def _indexes(table: str) -> str:
    return "\n".join(
        f'CREATE INDEX "{name}" ON "{table}" {columns};' for name, columns in POSTGRES_INDEXES.items()
    )


def _legacy_index_names() -> str:
    return "\n".join(f'ALTER INDEX "{name}" RENAME TO "{name}_legacy";' for name in POSTGRES_INDEXES)


POSTGRES_UPGRADE = f"""
ALTER TABLE "audit_log" RENAME TO "audit_log_legacy";
ALTER TABLE "audit_log_legacy" DROP CONSTRAINT "audit_log_pkey";
{_legacy_index_names()}
ALTER SEQUENCE "audit_log_id_seq" OWNED BY NONE;
CREATE TABLE "audit_log" (LIKE "audit_log_legacy" INCLUDING DEFAULTS)
    PARTITION BY RANGE ("created_at");
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id", "created_at");
ALTER SEQUENCE "audit_log_id_seq" OWNED BY "audit_log"."id";
{_indexes("audit_log")}
DO $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    newest date;
    bound date;
    day date;
BEGIN
    SELECT (max("created_at") AT TIME ZONE 'UTC')::date INTO newest FROM "audit_log_legacy";
    bound := greatest(today, coalesce(newest + 1, today));
    EXECUTE format(
        'ALTER TABLE "audit_log_legacy" ADD CONSTRAINT "audit_log_legacy_bound" '
        'CHECK ("created_at" < %L)',
        bound::timestamp AT TIME ZONE 'UTC'
    );
    EXECUTE format(
        'ALTER TABLE "audit_log" ATTACH PARTITION "audit_log_legacy" '
        'FOR VALUES FROM (MINVALUE) TO (%L)',
        bound::timestamp AT TIME ZONE 'UTC'
    );
    ALTER TABLE "audit_log_legacy" DROP CONSTRAINT "audit_log_legacy_bound";
    day := bound;
    WHILE day <= today + {AHEAD_DAYS} LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF "audit_log" FOR VALUES FROM (%L) TO (%L)',
            'audit_log_p' || to_char(day, 'YYYYMMDD'),
            day::timestamp AT TIME ZONE 'UTC',
            (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
        day := day + 1;
    END LOOP;
END
$$;
ANALYZE "audit_log";
"""

POSTGRES_DOWNGRADE = f"""
ALTER TABLE "audit_log" RENAME TO "audit_log_partitioned";
ALTER SEQUENCE "audit_log_id_seq" OWNED BY NONE;
CREATE TABLE "audit_log" (LIKE "audit_log_partitioned" INCLUDING DEFAULTS);
INSERT INTO "audit_log" SELECT * FROM "audit_log_partitioned";
DROP TABLE "audit_log_partitioned";
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id");
ALTER SEQUENCE "audit_log_id_seq" OWNED BY "audit_log"."id";
{_indexes("audit_log")}
"""

# MySQL runs no loop outside a stored program: a recursive CTE lists the days and the
# ALTER runs as a prepared statement.
MYSQL_UPGRADE = f"""
SET SESSION group_concat_max_len = 1000000;
SELECT GREATEST(UTC_DATE(), COALESCE(DATE(MAX(`created_at`)) + INTERVAL 1 DAY, UTC_DATE()))
    INTO @audit_bound FROM `audit_log`;
SELECT GROUP_CONCAT(
        CONCAT('PARTITION `p', DATE_FORMAT(@audit_bound + INTERVAL n DAY, '%Y%m%d'),
               '` VALUES LESS THAN (''',
               DATE_FORMAT(@audit_bound + INTERVAL n + 1 DAY, '%Y-%m-%d 00:00:00'), ''')')
        ORDER BY n SEPARATOR ', ')
    INTO @audit_days
    FROM (
        WITH RECURSIVE days (n) AS (
            SELECT 0
            UNION ALL
            SELECT n + 1 FROM days
            WHERE n < DATEDIFF(UTC_DATE() + INTERVAL {AHEAD_DAYS} DAY, @audit_bound)
        )
        SELECT n FROM days
    ) AS window_days;
SET @audit_partition = CONCAT(
    'ALTER TABLE `audit_log` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`, `created_at`) ',
    'PARTITION BY RANGE COLUMNS (`created_at`) (',
    'PARTITION `p_legacy` VALUES LESS THAN (''',
    DATE_FORMAT(@audit_bound, '%Y-%m-%d 00:00:00'), '''), ',
    @audit_days, ', PARTITION `p_future` VALUES LESS THAN (MAXVALUE))'
);
PREPARE audit_partition FROM @audit_partition;
EXECUTE audit_partition;
DEALLOCATE PREPARE audit_partition;
"""

MYSQL_DOWNGRADE = """
ALTER TABLE `audit_log` REMOVE PARTITIONING;
ALTER TABLE `audit_log` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`);
"""

NO_CHANGE = """
-- nothing changes on this database
SELECT 1;
"""

UPGRADE = {"sqlite": NO_CHANGE, "postgres": POSTGRES_UPGRADE, "mysql": MYSQL_UPGRADE}

DOWNGRADE = {"sqlite": NO_CHANGE, "postgres": POSTGRES_DOWNGRADE, "mysql": MYSQL_DOWNGRADE}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXVtv2zgW/iuEn1qgEzSOc9l2sYCTuK1nnLibOLvFtAOBtmhbE5n0kFQdo9v/viR1ly"
    "hZcuTE0egliMlzSOk7FM9V1I/WgpjIZgddh89vEWMWwa134EcLwwUS/+i634AWXC7DTtnA"
    "4dhW9FAQGixCOWacwgkXfVNoMySaTMQm1Fpyd6rWECNgk5mFD8BojoAJxViQIUDJClgMcN"
    "EmByXU4mtAMKDoO5lAyf1edTJOKBId9hpM4GSOGLD4gZzaJBMxt4VnO53FwdZfDjI4mSFB"
    "R8VcX/8QzRY20QNi8ufXlsMQNSxTkstx75FpQN76Q9It742phWwzBrpLqtoNvl6qtru7/u"
    "UHRSlvbWxMiO0scEi9XIurxwG541jmgeSRfTOEEYUcmREpYMe2PaH5Te6tiAZOHRTcgxk2"
    "mGgKHVvKsvXPqYMnEh6gZpJ/Ov/yLi1CZhjXw5Fx2xsZRislenkJCTl5TROC5bKxMJcI/v"
    "jpjhsColpbcoKLT92bV0cnrxUEhPEZVZ0KrtZPxShE7bIqaYQoTyiSmEhRpNC+FD3cWiA9"
    "4nHOBPKmx3rg/7ONBPyGUATh0+OD68O3A8DFMoXmUCx2T/Y5Ahj1r3q3o+7VZzndgrG/bI"
    "Vfd9STPW3Vuk60vnLlRcTG4O4awSDgv/3RJyB/gt+H172kVAO60e8teU3ikSUGJisDmpFl"
    "6rf6qAnKUOroYWmJ0baQepyzhlJ/IVL2MckVc2SfLSnmOGcFYvZWZSPl6qUcUaxFtWWEpU"
    "qVub9C3aAhpREyvdcqSAlVGtoPwhCyZvg3tFYA98V1QDxBGkA92/HOG+ZlQhq2ho8yhavA"
    "aosuKHHv4o4RV3d/0b296F72WgrhMZzcryA1jQyoKZoKscyFGXmPMEuDfu7xf/jtBtnKLM"
    "3G+8YdaySHqhHuCkfSJhH8YsimuxbtRbIFYjhTtyTnljPpMNP4P0lMsx2gmCSLeUBdDMgS"
    "CvCBxwwU8xvX6TABlM4GA7efur+0j0/eA7ZEmINXYuFJLQUY4q+lyzK1KONAtKa9n53MUM"
    "Tz8TxB+XyUc3fOrVkf8xIOj1woicXuPa2P83R2aWXP5CX88o92++jotP326OTsuHN6enz2"
    "9kzQqutNd53m7PTn/Y/961FcG8uGfDdIrQRjDtk8LYWLOaR6GcS5ErIQN7kbt3OXwljAB8"
    "NGeMbn4udJJwfn/3RvlFI96SRMn2uvp626fsZMlcbbzIa+8TYbb3NfpVzUD9nmyY6wNX7m"
    "Pss3YsakRJztasa5Gm8z39uMJA0e6XAmkhUvE9yNfmd8dZV1PXfpTCmHX+NE+YGAbOfJjz"
    "hs9Jmy0dzslTRpl2dNu6AFtOw00L0HIe9sfyPgqp2rcdR+W8DXEFSvY3ox2gEuhoOB0JPA"
    "4dOzxbhjjC2c5ZmogeKuifTihCGyhIytCNU8BNli0bBWI6DndkliIjp82y7iD0qyTI/Q7Y"
    "wDb1psacO1oX6XQD3J93SQt3a11yQBL/JMCKocuFPLfCkwKgVzwLAVvklzfI+2nMOTIugm"
    "De4IuCdJbC3hqAq99F2D7zkhNoI4Q4lG+RIwjwXjrtaxj/3Tas3z4XAQc3nO+4lw3fXd1X"
    "lPYK+gF0QWj0XxYoAzZ4moPkezCfMY6xPCHrS8ZNy/I2qJWXRB6w2wRzkb1Eug3gRPs3f2"
    "egVPUwGCItnTaNHhI5On9YwdJGPShHLjTzJ+JFY9NdCvZFxXpBh3zLVhwvUjgbqV41zCdb"
    "1xomgiXMAqoLpRI9UJrVLhNj2wYlQHa/Sfj+4QoxERf0phfOGP+SJzC3qcS0Qqwx1ME66M"
    "bW/ZMctwOy0UuVSV6C4PgLKWggLI7pEJpoS+Fy0rQu9F24oKY8ityphaNgKOAJqC3pfPw5"
    "uRcdm/0Ve4VzRukcoOssJB3VPEyBJ08T7GIXdYU+z+zFFXTwwppGX0o4edRSq1Es9kBdxP"
    "GGoSpA4yS8Lc+vdd7653+Q643N/wzd31df/64ztAHYwF7t/wpbBW3wGTYPQNf+j2B5J6Cs"
    "XDYCafqSKxlLMCoZSzzEjKWTKQIp7Whc7LyY5ShRw1jLweF0D3OBPd4xS6ls0R1TwGv94O"
    "rzPgDVmS3qM14eB/wLZYEQ263TMQ7jxjR1yIhdmBnPY5Nh8JUcxx9HF+ddX9khTBxWB4nt"
    "yl5ADnCYFA2zaUttCZjXnRlDhjE0wpEUyhZKVBO7Pa0iffXG+5/3ajV3HZPuycds6OTjpB"
    "oWXQkldfmYZyvBbGlGbl5hSvBiw1wvNJKlgjAQxKiSbonZM89hkqSeQ8N+YxBdkulClr52"
    "TK2ulMGeQcLZalrJAIS/1APmoXytBnQiy7tAiX2YejLFvtHVupu7cvZCduMgTZUNcrQxAP"
    "PEK6ndTjnE317T5X304tbKkyo/JiTrA2ct5nOe/RyxKbpfyU1Tt1EnI0Nlw06Bvlacro88"
    "voFVZpcJu3tuPV89EltU+180GqWJOQiqaRs/NRQdK6WDrqysKOzAhBbAIvgwvIFBCMVBLp"
    "DRAjqU7mjP9EEy5zSfLQJPRgMc7Aai6zSD6jSdJ5qV1MoElQfQ1XvkTAEjrfzYF6w7oZqG"
    "1fA2heR642mJOXqIoKL20EZJnzUa48A+Dl7mk6jKVKT3jC/npPoZcdvImw1DCHtJNi8oW7"
    "q5XbKSJMtYngPHHsN7PIKDt/EXLUBvTKwmaNNd5Y4401nm+Ne9WIWQZ5WKy4ySanIeUu32"
    "9N1l9FLSN5Dk+yQiuilXTd8fi4jiKwsGWHfj7NHOlxS1nkfxdz/JFbfY6h3diJT2Ancovb"
    "pV46DBhqiPBOktWZlvh+meF7v1M0LnhlLjgm2gU5Qg8ZKzJgqMGb3HnJit6XUSxPkSohDH"
    "IVg+H1R588WVfYZP6bzL+zNLeUepyzkfq+SF2TPUy9aNaEK5pwRROuKBKucF/sy49ZBC//"
    "FQtchC8gbs4qfiIrIC5zHWb8vHQfmEMGXskvqsgcn5gYQcrAyuJz9ZkV94RhQfw6nUisaM"
    "yKDwhr4hCPjEM0Ef0K4N1PFfms67ZCBVlmN9+oTP33tHesSvcB+6oVaVXKcUQ4tDcoR5em"
    "uHLkAf3m8/5t29dhb4CFAQRTtALMJlyosfEaKFReA0aE+oLcfWWbqqIZ05pOEZVn80u9xw"
    "CFFNnrlKaseoJveAUtLt8kVzpXaFn3o2jqnv3PpzFnIUdQ/8qZHqts5SDpp+d2AW07UzP4"
    "PNWohX1Qu0ft05NAJcgfedrg9qo7GDxC4+bVLtRR6T5B7cKjdEl1m1/XMS0+IDPdphf05W"
    "52UFIZtke22/ylPuUY+dCOnoASxw0u67vdQwzEkjYziJqKwL2sCGwCvNvYuHse2ktHdCkS"
    "kDKudV2y06VxrhrmTA/bRU4YEVTZWel26pSRhdh7SSmcQ446Ylz5ebhLyEt9Tsmn3xW4z3"
    "fW8PFhkZenBVX2KS6HqdenA01feJvwGer3cnr7uMghOYIqu6jiOHVQjrhPui4DcMBQgwx2"
    "smilU2QHlmQ5ZSud1B6cMEdLublx1joVsWzv70aO1XeoOgHRWGh83A82gRmwJvgSsE4l4w"
    "sENq90ZXh3PuiBzze9i/5t3zveKTAKVadsCg8Tuul1B8nyC9tCWNhfyzK7RYypfltyp8iO"
    "3MnekDup/Vj5vsK11x0Amg1znKt+OLePixhugipH9aVMt2f7pvSeQb19/iTu1bGlGBcZWx"
    "yVleZtIo8vL/KIqDWZt3RxR7fnTW7UMaTZm0+C/V3CfjvL+H9HVP+lv2xNFmGpYfxhJy6c"
    "fKhKIOyR1xDdnbzXIWbkWmss+yTZCMvTnyT7PIZCZWfGPqsy+/l/7lhJAw=="
)
