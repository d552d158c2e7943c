"""Migration 0_20261122063204_init.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
CREATE TABLE "user" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "email" VARCHAR(320) NOT NULL UNIQUE,
    "hashed_password" VARCHAR(1024) NOT NULL,
    "display_name" VARCHAR(100) NOT NULL,
    "is_active" INT NOT NULL,
    "is_superuser" INT NOT NULL,
    "is_verified" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "study_record" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "subject" VARCHAR(100) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "minutes" INT NOT NULL,
    "studied_on" DATE NOT NULL,
    "notes" TEXT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "owner_id" CHAR(36) NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_study_recor_owner_i_d73b3c" ON "study_record" ("owner_id", "studied_on");
CREATE INDEX "idx_study_recor_owner_i_6c0c05" ON "study_record" ("owner_id", "subject");
CREATE TABLE "audit_log" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "request_id" VARCHAR(128) NOT NULL,
    "method" VARCHAR(16) NOT NULL,
    "path" VARCHAR(512) NOT NULL,
    "route" VARCHAR(255),
    "query" VARCHAR(2048) NOT NULL,
    "status_code" SMALLINT NOT NULL,
    "duration_ms" REAL NOT NULL,
    "client_ip" VARCHAR(45),
    "user_agent" VARCHAR(256),
    "user_id" CHAR(36),
    "response_bytes" BIGINT NOT NULL
);
CREATE INDEX "idx_audit_log_created_277f5d" ON "audit_log" ("created_at");
CREATE INDEX "idx_audit_log_path_39c3ce" ON "audit_log" ("path");
CREATE INDEX "idx_audit_log_status__a053c3" ON "audit_log" ("status_code");
CREATE INDEX "idx_audit_log_user_id_d5b3c4" ON "audit_log" ("user_id");
CREATE TABLE "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);
""",
    "postgres": """
CREATE TABLE "user" (
    "id" UUID NOT NULL PRIMARY KEY,
    "email" VARCHAR(320) NOT NULL UNIQUE,
    "hashed_password" VARCHAR(1024) NOT NULL,
    "display_name" VARCHAR(100) NOT NULL,
    "is_active" BOOL NOT NULL,
    "is_superuser" BOOL NOT NULL,
    "is_verified" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE "study_record" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "subject" VARCHAR(100) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "minutes" INT NOT NULL,
    "studied_on" DATE NOT NULL,
    "notes" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "owner_id" UUID NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE
);
CREATE INDEX "idx_study_recor_owner_i_d73b3c" ON "study_record" ("owner_id", "studied_on");
CREATE INDEX "idx_study_recor_owner_i_6c0c05" ON "study_record" ("owner_id", "subject");
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "request_id" VARCHAR(128) NOT NULL,
    "method" VARCHAR(16) NOT NULL,
    "path" VARCHAR(512) NOT NULL,
    "route" VARCHAR(255),
    "query" VARCHAR(2048) NOT NULL,
    "status_code" SMALLINT NOT NULL,
    "duration_ms" DOUBLE PRECISION NOT NULL,
    "client_ip" VARCHAR(45),
    "user_agent" VARCHAR(256),
    "user_id" UUID,
    "response_bytes" BIGINT NOT NULL
);
CREATE INDEX "idx_audit_log_created_277f5d" ON "audit_log" ("created_at");
CREATE INDEX "idx_audit_log_path_39c3ce" ON "audit_log" ("path");
CREATE INDEX "idx_audit_log_status__a053c3" ON "audit_log" ("status_code");
CREATE INDEX "idx_audit_log_user_id_d5b3c4" ON "audit_log" ("user_id");
CREATE TABLE "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
""",
    "mysql": """
CREATE TABLE `user` (
    `id` CHAR(36) NOT NULL PRIMARY KEY,
    `email` VARCHAR(320) NOT NULL UNIQUE,
    `hashed_password` VARCHAR(1024) NOT NULL,
    `display_name` VARCHAR(100) NOT NULL,
    `is_active` BOOL NOT NULL,
    `is_superuser` BOOL NOT NULL,
    `is_verified` BOOL NOT NULL,
    `created_at` DATETIME(6) NOT NULL
) CHARACTER SET utf8mb4;
CREATE TABLE `study_record` (
    `id` INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `subject` VARCHAR(100) NOT NULL,
    `title` VARCHAR(200) NOT NULL,
    `minutes` INT NOT NULL,
    `studied_on` DATE NOT NULL,
    `notes` LONGTEXT NOT NULL,
    `created_at` DATETIME(6) NOT NULL,
    `updated_at` DATETIME(6) NOT NULL,
    `owner_id` CHAR(36) NOT NULL,
    CONSTRAINT `fk_study_re_user_607443c8` FOREIGN KEY (`owner_id`) REFERENCES `user` (`id`) ON DELETE CASCADE,
    KEY `idx_study_recor_owner_i_d73b3c` (`owner_id`, `studied_on`),
    KEY `idx_study_recor_owner_i_6c0c05` (`owner_id`, `subject`)
) CHARACTER SET utf8mb4;
CREATE TABLE `audit_log` (
    `id` BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `created_at` DATETIME(6) NOT NULL,
    `request_id` VARCHAR(128) NOT NULL,
    `method` VARCHAR(16) NOT NULL,
    `path` VARCHAR(512) NOT NULL,
    `route` VARCHAR(255),
    `query` VARCHAR(2048) NOT NULL,
    `status_code` SMALLINT NOT NULL,
    `duration_ms` DOUBLE NOT NULL,
    `client_ip` VARCHAR(45),
    `user_agent` VARCHAR(256),
    `user_id` CHAR(36),
    `response_bytes` BIGINT NOT NULL,
    KEY `idx_audit_log_created_277f5d` (`created_at`),
    KEY `idx_audit_log_path_39c3ce` (`path`),
    KEY `idx_audit_log_status__a053c3` (`status_code`),
    KEY `idx_audit_log_user_id_d5b3c4` (`user_id`)
) CHARACTER SET utf8mb4;
CREATE TABLE `aerich` (
    `id` INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `version` VARCHAR(255) NOT NULL,
    `app` VARCHAR(100) NOT NULL,
    `content` JSON NOT NULL
) CHARACTER SET utf8mb4;
""",
}

DOWNGRADE = {
    "sqlite": """
DROP TABLE IF EXISTS "audit_log";
DROP TABLE IF EXISTS "study_record";
DROP TABLE IF EXISTS "user";
""",
    "postgres": """
DROP TABLE IF EXISTS "audit_log";
DROP TABLE IF EXISTS "study_record";
DROP TABLE IF EXISTS "user";
""",
    "mysql": """
DROP TABLE IF EXISTS `audit_log`;
DROP TABLE IF EXISTS `study_record`;
DROP TABLE IF EXISTS `user`;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztmm1v4jgQgP8Kyqeu1FvR8Hqn00lA6S63FFZA71a7WkUmMeBr4mQTpy3q9b+fbfLqvE"
    "D2Ggq0X6oynrGdx854ZpxHyTA1qDvvbxxoS79VHiUMDEj/icnPKxKwrFDKBATMda7o+hpz"
    "h9hAJVS2ALoDqUiDjmojiyATUyl2dZ0JTZUqIrwMRS5GP1yoEHMJyYrP49t3KkZYgw/Q8X"
    "9at8oCQV2LTRNpbGwuV8ja4rKbm8HlFddkw80V1dRdA4fa1pqsTByouy7S3jMb1raEGNqA"
    "QC3yGGyW3tP6os2MqYDYLgymqoUCDS6AqzMY0u8LF6uMQYWPxP7U//CmFlFTlNF4pkz7M0"
    "WRCrBTTcy4I0wYqMenTb8hEC6V2AC9j53JWa35jiMwHbK0eSPHJT1xQ0DAxpRDDylDAyA9"
    "Cbq3AnY66MBAYE2nWg5lH1AJSCUDPCg6xEuyoj9rcjWH8V+dyQazXOWcTfpGbF6Tkdckb9"
    "oY75DvCjgrqCkWcJx7007Z0tmkU0yfh7kvCKGHr/XeqV9U5foO2JlaJvdNYxy8hhxLB2uF"
    "/y5AXbTbH3KpLM8hAt9lm1OtHNyJbY4chR4Q6C4Fddc0dQhwhtuO2gmo59SwLNa+l9mvn+"
    "6Ox0PWs+E4P3QuGMwEyDfX3T6lz9lTJUS4eDCaJYE7rgVt/4wuxjxmukfsgeSYud9BG9FR"
    "Unz5NuxRyzfqBairNmRMFECS0C9pC0EGTKcetxSga57pe/+fYzxN6QNqY6yvPa+WsyCzwX"
    "V/Outcf46tymVn1mctMpeuBelZUzgGgk4qfw9mHyvsZ+XreNQXY89Ab/ZVYnMCLjEVbN4r"
    "QIuEeb7Up/bE0oHFbSRUZYI5UG/vga0psZZwezjE1daKDVUaJjkpr6VnfvVpAnXAASf3gp"
    "cVTVlXE97TEW6GJ3/7+1J/UzCKpmxmcU02GbIhSgAGS/5IbGw2UgqylDxTIJqdbkZXsfS0"
    "85tk3tOlVTZ5Ixua+mWFdkv1hDZ3/g+ks/heKFMdYFIgUWUrJew27wU53Nxpyabwi3xRb9"
    "XbtWa9TVX4NANJK8cV+S4+OzH1sRcI3SMmJ5kolRC3E0T0QulRYHCChOWdCMs5hOUkYQNh"
    "l8CUUynTQ0QstruJY4D8LJ4iftp7zjo1GMxwDjGrvEDwCBHn8GOBnAAQm6kbcgYfMnZkYH"
    "ACxZC8+Lj/ZRYLjf0X++y68+VdLDwejkcffPWII+gNx9231OWVpi7RVXct7SdXPW75tuqH"
    "suo+o8iye7MPVz2aNux6cRW1ec7rq8M9kbbcViUqAALfJNwr04ZoiT/BNUc8oBMBWE2LUo"
    "Wrz+NkmsjuqdgG90FiGttS9OHpI8NNYa3XmfY6lzQcyC6qlFko6NAIjAzNpZRSJQjazvNK"
    "BIBpKbqndjDX0l20fC35/q+yXKu15Gqt2W7UW61GuxqE88mmvLi+O/jAQvuYq95eFTiuaG"
    "qf63O8x2gyerIhJeqQ1JM0uzQRtzrB+sSF3N6lAiS3sytArE2oT1APaBbiHFqcIuPmLojF"
    "lyNCuCkCtgDtuABeX78suC/3gU3jQt4BLtXKpMvb4nht0yWFKpiBwU8B9ugd5uaVG41dCp"
    "iNRnYBk7XFAdPntNdFAAcGJ1AtEgvE9V08MFPLKRHXEz6Y5ivEdShCLWUnTw2g65nhpWBa"
    "VsH4BSLNmtxqBrEl+5EXTU6vO8NhslSsuTa/71WMlHrnlW6CDKqCnUB1wQyP8KTLqxKPb7"
    "rDfuXzpN8bTAfjUTwm5I38LjT4RmPS7wzFSqeOIKbhl1XEWcSMTs8j13dxyPVsf1xPuGP2"
    "1ZZC82tc6Go0bnV6nOXGLnEb1co5+RKRG4dWrJoXMfkfxbztqA8ks9z64Xk0p3Ms2i9U5u"
    "vU26e8GkrSdn8Xo9VyT7k91FMKfFJVavUP2khdSWm1v03LeW7lL9Q5mLLfa6n5lfaNzx20"
    "HZR2jZ99kEVMTrD6UEoCx16qAoQ99ROkW8oXVHREkhqM/TkdjzJi3tBErEMjlVT+rejIOb"
    "H8gsGIVZ8Tn1aIX1EIEQXroPvSh9nTf6VXSTM="
)
