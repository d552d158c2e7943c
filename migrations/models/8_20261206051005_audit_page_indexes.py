"""Migration 8_20261206051005_audit_page_indexes.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
DROP INDEX IF EXISTS "idx_audit_log_user_id_d5b3c4";
DROP INDEX IF EXISTS "idx_audit_log_created_277f5d";
DROP INDEX IF EXISTS "idx_audit_log_status__a053c3";
CREATE INDEX "idx_audit_log_created_73913f" ON "audit_log" ("created_at", "id");
CREATE INDEX "idx_audit_log_status__04635f" ON "audit_log" ("status_code", "created_at", "id");
CREATE INDEX "idx_audit_log_user_id_103197" ON "audit_log" ("user_id", "created_at", "id");
CREATE INDEX "idx_audit_log_route_2998ac" ON "audit_log" ("route", "created_at", "id");
""",
    "postgres": """
DROP INDEX IF EXISTS "idx_audit_log_user_id_d5b3c4";
DROP INDEX IF EXISTS "idx_audit_log_created_277f5d";
DROP INDEX IF EXISTS "idx_audit_log_status__a053c3";
CREATE INDEX IF NOT EXISTS "idx_audit_log_created_73913f" ON "audit_log" ("created_at", "id");
CREATE INDEX IF NOT EXISTS "idx_audit_log_status__04635f" ON "audit_log" ("status_code", "created_at", "id");
CREATE INDEX IF NOT EXISTS "idx_audit_log_user_id_103197" ON "audit_log" ("user_id", "created_at", "id");
CREATE INDEX IF NOT EXISTS "idx_audit_log_route_2998ac" ON "audit_log" ("route", "created_at", "id");
""",
    "mysql": """
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_user_id_d5b3c4`;
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_created_277f5d`;
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_status__a053c3`;
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_created_73913f` (`created_at`, `id`);
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_status__04635f` (`status_code`, `created_at`, `id`);
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_user_id_103197` (`user_id`, `created_at`, `id`);
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_route_2998ac` (`route`, `created_at`, `id`);
""",
}

DOWNGRADE = {
    "sqlite": """
DROP INDEX IF EXISTS "idx_audit_log_route_2998ac";
DROP INDEX IF EXISTS "idx_audit_log_user_id_103197";
DROP INDEX IF EXISTS "idx_audit_log_status__04635f";
DROP INDEX IF EXISTS "idx_audit_log_created_73913f";
CREATE INDEX "idx_audit_log_status__a053c3" ON "audit_log" ("status_code");
CREATE INDEX "idx_audit_log_created_277f5d" ON "audit_log" ("created_at");
CREATE INDEX "idx_audit_log_user_id_d5b3c4" ON "audit_log" ("user_id");
""",
    "postgres": """
DROP INDEX IF EXISTS "idx_audit_log_route_2998ac";
DROP INDEX IF EXISTS "idx_audit_log_user_id_103197";
DROP INDEX IF EXISTS "idx_audit_log_status__04635f";
DROP INDEX IF EXISTS "idx_audit_log_created_73913f";
CREATE INDEX IF NOT EXISTS "idx_audit_log_status__a053c3" ON "audit_log" ("status_code");
CREATE INDEX IF NOT EXISTS "idx_audit_log_created_277f5d" ON "audit_log" ("created_at");
CREATE INDEX IF NOT EXISTS "idx_audit_log_user_id_d5b3c4" ON "audit_log" ("user_id");
""",
    "mysql": """
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_route_2998ac`;
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_user_id_103197`;
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_status__04635f`;
ALTER TABLE `audit_log` DROP INDEX `idx_audit_log_created_73913f`;
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_status__a053c3` (`status_code`);
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_created_277f5d` (`created_at`);
ALTER TABLE `audit_log` ADD INDEX `idx_audit_log_user_id_d5b3c4` (`user_id`);
""",
}


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
