"""Migration 3_20261125161437_kept_counts.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.

Edited by hand:
- MySQL: `study_day`.`subject` is `COLLATE utf8mb4_bin`, so its unique key (and the stats'
  GROUP BY) tells "Math" from "math" and "Mathé" as PostgreSQL and SQLite do; Tortoise
  fields cannot declare a collation.
- Back-fill, after the tables exist: each user's count, the total (all of it in slot 0:
  only the sum of the slots means anything) and the per-day, per-subject rollup, from the
  records already stored, in the same transaction as the DDL on PostgreSQL and SQLite.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
CREATE TABLE IF NOT EXISTS "study_record_total" (
    "slot" SMALLINT NOT NULL PRIMARY KEY,
    "records" BIGINT NOT NULL
) /* All records, in a few slots (by owner) so that writers of different users rarely */;
CREATE TABLE IF NOT EXISTS "study_day" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "studied_on" DATE NOT NULL,
    "subject" VARCHAR(100) NOT NULL,
    "minutes" BIGINT NOT NULL,
    "records" INT NOT NULL,
    "owner_id" CHAR(36) NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_study_day_owner_i_075325" UNIQUE ("owner_id", "studied_on", "subject")
) /* Minutes and records of one user, day and subject; a row exists while records do. */;
CREATE TABLE IF NOT EXISTS "study_record_count" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "records" INT NOT NULL,
    "owner_id" CHAR(36) NOT NULL UNIQUE REFERENCES "user" ("id") ON DELETE CASCADE
) /* How many records one user has (the row appears with the first one). */;
CREATE INDEX "idx_study_recor_minutes_f87ff2" ON "study_record" ("minutes", "id");
CREATE INDEX "idx_study_recor_studied_331ce0" ON "study_record" ("studied_on", "id");
CREATE INDEX "idx_study_recor_owner_i_e69985" ON "study_record" ("owner_id", "minutes", "id");
CREATE INDEX "idx_study_recor_owner_i_094b6b" ON "study_record" ("owner_id", "created_at", "id");
CREATE INDEX "idx_study_recor_created_0c0fa0" ON "study_record" ("created_at", "id");
INSERT INTO "study_record_count" ("owner_id", "records")
    SELECT "owner_id", COUNT(*) FROM "study_record" GROUP BY "owner_id";
INSERT INTO "study_record_total" ("slot", "records")
    SELECT 0, COUNT(*) FROM "study_record";
INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records")
    SELECT "owner_id", "studied_on", "subject", SUM("minutes"), COUNT(*)
    FROM "study_record" GROUP BY "owner_id", "studied_on", "subject";
""",
    "postgres": """
CREATE TABLE IF NOT EXISTS "study_record_total" (
    "slot" SMALLINT NOT NULL PRIMARY KEY,
    "records" BIGINT NOT NULL
);
COMMENT ON TABLE "study_record_total" IS 'All records, in a few slots (by owner) so that writers of different users rarely';
CREATE TABLE IF NOT EXISTS "study_day" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "studied_on" DATE NOT NULL,
    "subject" VARCHAR(100) NOT NULL,
    "minutes" BIGINT NOT NULL,
    "records" INT NOT NULL,
    "owner_id" UUID NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_study_day_owner_i_075325" UNIQUE ("owner_id", "studied_on", "subject")
);
COMMENT ON TABLE "study_day" IS 'Minutes and records of one user, day and subject; a row exists while records do.';
CREATE TABLE IF NOT EXISTS "study_record_count" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "records" INT NOT NULL,
    "owner_id" UUID NOT NULL UNIQUE REFERENCES "user" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "study_record_count" IS 'How many records one user has (the row appears with the first one).';
CREATE INDEX IF NOT EXISTS "idx_study_recor_minutes_f87ff2" ON "study_record" ("minutes", "id");
CREATE INDEX IF NOT EXISTS "idx_study_recor_studied_331ce0" ON "study_record" ("studied_on", "id");
CREATE INDEX IF NOT EXISTS "idx_study_recor_owner_i_e69985" ON "study_record" ("owner_id", "minutes", "id");
CREATE INDEX IF NOT EXISTS "idx_study_recor_owner_i_094b6b" ON "study_record" ("owner_id", "created_at", "id");
CREATE INDEX IF NOT EXISTS "idx_study_recor_created_0c0fa0" ON "study_record" ("created_at", "id");
INSERT INTO "study_record_count" ("owner_id", "records")
    SELECT "owner_id", COUNT(*) FROM "study_record" GROUP BY "owner_id";
INSERT INTO "study_record_total" ("slot", "records")
    SELECT 0, COUNT(*) FROM "study_record";
INSERT INTO "study_day" ("owner_id", "studied_on", "subject", "minutes", "records")
    SELECT "owner_id", "studied_on", "subject", SUM("minutes"), COUNT(*)
    FROM "study_record" GROUP BY "owner_id", "studied_on", "subject";
""",
    "mysql": """
CREATE TABLE IF NOT EXISTS `study_record_total` (
    `slot` SMALLINT NOT NULL PRIMARY KEY,
    `records` BIGINT NOT NULL
) CHARACTER SET utf8mb4 COMMENT='All records, in a few slots (by owner) so that writers of different users rarely';
CREATE TABLE IF NOT EXISTS `study_day` (
    `id` BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `studied_on` DATE NOT NULL,
    `subject` VARCHAR(100) COLLATE utf8mb4_bin NOT NULL,
    `minutes` BIGINT NOT NULL,
    `records` INT NOT NULL,
    `owner_id` CHAR(36) NOT NULL,
    UNIQUE KEY `uid_study_day_owner_i_075325` (`owner_id`, `studied_on`, `subject`),
    CONSTRAINT `fk_study_da_user_d48df301` FOREIGN KEY (`owner_id`) REFERENCES `user` (`id`) ON DELETE CASCADE
) CHARACTER SET utf8mb4 COMMENT='Minutes and records of one user, day and subject; a row exists while records do.';
CREATE TABLE IF NOT EXISTS `study_record_count` (
    `id` INT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `records` INT NOT NULL,
    `owner_id` CHAR(36) NOT NULL UNIQUE,
    CONSTRAINT `fk_study_re_user_ad94b6d6` FOREIGN KEY (`owner_id`) REFERENCES `user` (`id`) ON DELETE CASCADE
) CHARACTER SET utf8mb4 COMMENT='How many records one user has (the row appears with the first one).';
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_minutes_f87ff2` (`minutes`, `id`);
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_studied_331ce0` (`studied_on`, `id`);
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_owner_i_e69985` (`owner_id`, `minutes`, `id`);
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_owner_i_094b6b` (`owner_id`, `created_at`, `id`);
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_created_0c0fa0` (`created_at`, `id`);
INSERT INTO `study_record_count` (`owner_id`, `records`)
    SELECT `owner_id`, COUNT(*) FROM `study_record` GROUP BY `owner_id`;
INSERT INTO `study_record_total` (`slot`, `records`)
    SELECT 0, COUNT(*) FROM `study_record`;
INSERT INTO `study_day` (`owner_id`, `studied_on`, `subject`, `minutes`, `records`)
    SELECT `owner_id`, `studied_on`, `subject` COLLATE utf8mb4_bin, SUM(`minutes`), COUNT(*)
    FROM `study_record` GROUP BY `owner_id`, `studied_on`, `subject` COLLATE utf8mb4_bin;
""",
}

DOWNGRADE = {
    "sqlite": """
DROP INDEX IF EXISTS "idx_study_recor_created_0c0fa0";
DROP INDEX IF EXISTS "idx_study_recor_owner_i_094b6b";
DROP INDEX IF EXISTS "idx_study_recor_owner_i_e69985";
DROP INDEX IF EXISTS "idx_study_recor_studied_331ce0";
DROP INDEX IF EXISTS "idx_study_recor_minutes_f87ff2";
DROP TABLE IF EXISTS "study_record_total";
DROP TABLE IF EXISTS "study_day";
DROP TABLE IF EXISTS "study_record_count";
""",
    "postgres": """
DROP INDEX IF EXISTS "idx_study_recor_created_0c0fa0";
DROP INDEX IF EXISTS "idx_study_recor_owner_i_094b6b";
DROP INDEX IF EXISTS "idx_study_recor_owner_i_e69985";
DROP INDEX IF EXISTS "idx_study_recor_studied_331ce0";
DROP INDEX IF EXISTS "idx_study_recor_minutes_f87ff2";
DROP TABLE IF EXISTS "study_record_total";
DROP TABLE IF EXISTS "study_day";
DROP TABLE IF EXISTS "study_record_count";
""",
    "mysql": """
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_created_0c0fa0`;
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_owner_i_094b6b`;
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_owner_i_e69985`;
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_studied_331ce0`;
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_minutes_f87ff2`;
DROP TABLE IF EXISTS `study_record_total`;
DROP TABLE IF EXISTS `study_day`;
DROP TABLE IF EXISTS `study_record_count`;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXFtv4zYW/iuEnxIgDTKKnaQ7iwJ2xtNxm8RF7OwWnRYCY9E2G1l0RWocY3b++5LUlb"
    "pZiq3E1ugliMlzSOk75LlS/NpaEAOZ9LTrsPkIUYqJ1foX+Nqy4ALxf9K6T0ALLpdhp2hg"
    "8NGU9JAT6jRC+UiZDSeM902hSRFvMhCd2HjJ3KlaQwsBk8ywdQrGcwQMyMeCFAGbrACmgP"
    "E2MSixMVsDYgEbfSETKLjfy07KiI14h7kGEziZIwowOxVTG2TC58bWrNJZHAv/4yCdkRni"
    "dDaf6/NfvBlbBnpGVPz83HIosnVsCHIx7hMydMhafwm65ZM+xcg0FNBdUtmus/VStj08DD"
    "58lJTi1R71CTGdhRVSL9f86a2A3HGwcSp4RN8MWciGDBkRKViOaXpC85vcV+ENzHZQ8A5G"
    "2GCgKXRMIcvWv6eONRHwADmT+NP+yXu0CJmu3w3H+qg/1vVWQvTiEWJy8pomxBLLBltMIP"
    "j1mztuCIhsbYkJrj9174/OL44lBISymS07JVytb5KRi9plldIIUZ7YSGAiRJFA+wPvYXiB"
    "0hFXOWPIGx7rqf/PSyTgN4QiCHePD64PXwWA82UKjSFf7J7scwQwHtz2R+Pu7W9iugWl/5"
    "gSv+64L3o02bqOtR658iJcMbhaIxgE/Hcw/gTET/DH8K4fl2pAN/6jJZ6Jb1miW2SlQyOy"
    "TP1WHzVOGUodPS8xH+0FUlc5ayj1A5Gyj0mumCN6tqSYVc4diNlblY2Udy/liGEtai0jLL"
    "s0mfsr1A0WUjgh06dUAymgSkL7kTtCeGb9itYS4AF/DmhNUAqgnu/44A1zmJCGreFWtuEq"
    "8NqiC4q/O39jxOTbX3dH190P/ZZE+BFOnlbQNvQMqG005WKZczfyCVk0CXrP4//46z0ypV"
    "uajfe9O9ZYDFUj3CWORCMR/BRkk10LbRFvgRacyVcSc4uZ0jBLiX/imGYHQIoki0VAXQuQ"
    "JeTgA48ZSOYTN+gwABTBBgWjT90ftM7Fe0CXyGLgiC88YaUARexYhCxTbFMGeGsy+qlkhi"
    "KRjxcJiv1RLtzp4dnAYiUCHrFQYovd263bRTpVetkz8Qg//Khp5+eX2tn5xVWnfXnZuTq7"
    "4rTyeZNdlzmavjf4eXA3Vq2xaMgPg+RK0OeQzpNSuJ5DO10GKldMFvwlqwk7qxTGAj7rJr"
    "JmbM5/XrRzcP5P914a1Yt2zPW583o02fVNcVWaaDMb+ibabKLNfZVy0TjkJTs7wtbEmfss"
    "34gbkxBxdqipcjXRZn60GSkabBlwxooVhwnuxrhTXV1lQ88qgykZ8KcEUX4iIDt48jMOG2"
    "OmbDQ3RyVN2eVNyy5oAbFZJtQIGGoXZZxrZwXCDE6VGWfIPjXQEDEZdyuWkNIVsVOWdDbS"
    "Kay7wfytAwwF9XdnWpHoTpBl4u52qsAbmC5NuNbl7xKox/leD/JWVZojDniRZc6pcuBOLH"
    "PMQyOuCb+kQN0jxETQylDbUb4Y1I+csSqsfS3zunq6NxzeKE52bxBLEN093Pb6HH2JPSfC"
    "TMkbKYBTZ4ns9KrAJswV1leEPWg5ZNy/IBvzWdLSpBtgj3I2qJdAvUnXZSv3eqXrEiFpkX"
    "pd9JjbluW6ekaravqEOcZaN+B6S6hGYpwPcF1vnGw04c73LqC6lyPVCa1SaYt0YPmojpWi"
    "1X10hxYaE/6nFMbX/pgHmaNNx7lExifYmClZn+imzc78BCqiUPqndYsthyEKoGUAb78AMg"
    "XEQqI8bZ8APpLspM7j32jC3gMoj/qiZ0wZBas5NlHAaJBkxbyKCVJSU59bZGW5TrFAgHtq"
    "urvivGHdqvlLk1dNEf21iuiq8JLuYkaBQOHKcxUPV4enYSxcvZi/7a/3BHrZeZMISy2zVB"
    "UkTRauViunKSJMm9XFrnA+q4G6iB7vy3DpMkGPcNQGdO1d+7J9dX7RDrAOWvIgTsIpbWbJ"
    "YmyUpynF5pdiA5+kOfmbV4GNLql9qr9GY78shzwMDTf55HZIWWVV9rMCp+oZidOjJ0CliF"
    "iltG41C5dGEXjYoiN9vpQ5kuOW8si/F3d8S1Wf42g3fuIr+IkMM7NUDTNgqCHCWiGEtRyE"
    "tRKe+H654XuvKZoQfGchuEVSF+QYPWesyIChBicW8opY/d/HSv3K39hHt93fj5Ua1s3w7m"
    "efPKIIrm+Gvaa++J3WF5Vz4kvjhVJXORup74vUU46PJ8p6TbqiSVc06Yoi6Qq3jJqfswhK"
    "rcUSF2G5d3NV8RNZAf6Y67Di55X7wBxScCTuARI1Pj4xgjYFK8zm8nIg97tYTnycLCTuaM"
    "wdH2tv8hBb5iGajP4O4N1PE/mm63aHBrKMNt9oTP1TMRWb0n3AfteGdFfGcUwYNDcYR5em"
    "uHFkAf3mWypM07dhJwBbAIIpWgFqEsbN2OMaSFSOASXcfEEGVjZmyJaHZgw8nSJb3Cgh7B"
    "4FNrSRuU5Yyl1P8Ke1gpiBKbGlzeVW1r3KT76zf+kfdRZiBPmvmGlbYysGSe6e0QKaZqZl"
    "8Hl2Yxb2weyea5cXgUkQP/Kswei2e3OzhcXNO7tQR6P7CmcXtrIlu1N+XcfA7IbM0pRe0J"
    "er7KCg0k2PbG++Km0O5u1yteZpjcPKs+6Jp7nnCbZkXtVGHFHKUgOI7KKlylXDyuU77apI"
    "bVi7yq4Ni75Y5ZJrQFIK55CjjhhfFIE4vjkiCF/EAV5CVuoqLp++KnDf7vv4zjutALicKh"
    "Nd2Rc7i0kcVupsQ8DwIoD37IuP2NGGTqfI0YZOJ/tog+hTAebvaa/LABww1KCOHD860i6i"
    "gQVZzuGRdkIHUwaZQzmERspK3hBsqqxVRUUHFXRG7nBwbPnRl75ICTQ/mgRmoBrji6E6FY"
    "wHaOnyzo8MH3o3ffDbff96MBoM71SfUHaKpvAT6/t+9yZ+BsLEyOLu17KMslCY6qeR20UU"
    "cjtbH7cT6ljeT8zj67RvHrNhVrnqh7PWKeK3caocy5fw3N7sOvLNUO9JZLnx3qhoTEeXfF"
    "ykP65Lf7KU5G2yf4eX/UM2nsxbabk/t+ckN/MX0uxN2u97yflVVnX/guz0OyKzDVmEpYbZ"
    "h0oCOLGpSiDskdcQ3Uq+reAzslRn7JfR8C7D5w1Z4nloPGHgf8DEtGbxhQBDyT4nDl3Hz1"
    "fHPAoxQO+tjdm3/wN9NsTJ"
)
