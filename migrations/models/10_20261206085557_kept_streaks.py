"""Migration 10_20261206085557_kept_streaks.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.

Edited by hand:
- MySQL: `study_subject`.`subject` is `COLLATE utf8mb4_bin`, as `study_day`.`subject` is
  (migration 3): its unique key tells "Math" from "math" and "Mathé".
- Back-fill, after the tables exist, from the per-day rollup (which migration 3 filled
  from the records): each user's minutes and records per subject, and each user's runs of
  consecutive days. The runs are "gaps and islands": numbered in date order per user, the
  days of one run share `day number - row number`; each dialect spells the day number its
  own way. In the same transaction as the DDL on PostgreSQL and SQLite. Run it with the
  writers of the previous version stopped: a record written meanwhile by code that does
  not keep these tables would be missing from them.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
CREATE TABLE IF NOT EXISTS "study_run" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "first_day" DATE NOT NULL,
    "last_day" DATE NOT NULL,
    "length" INT NOT NULL,
    "owner_id" CHAR(36) NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_study_run_owner_i_87ea0e" UNIQUE ("owner_id", "last_day")
) /* A streak: a run of consecutive days on each of which the user has a record, from */;
CREATE INDEX IF NOT EXISTS "idx_study_run_owner_i_d7b535" ON "study_run" ("owner_id", "length");
CREATE TABLE IF NOT EXISTS "study_subject" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "subject" VARCHAR(100) NOT NULL,
    "minutes" BIGINT NOT NULL,
    "records" INT NOT NULL,
    "owner_id" CHAR(36) NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_study_subje_owner_i_f7b086" UNIQUE ("owner_id", "subject")
) /* Minutes and records of one user and subject over every day; a row exists while */;
INSERT INTO "study_subject" ("owner_id", "subject", "minutes", "records")
    SELECT "owner_id", "subject", SUM("minutes"), SUM("records")
    FROM "study_day" GROUP BY "owner_id", "subject";
INSERT INTO "study_run" ("owner_id", "first_day", "last_day", "length")
    SELECT "owner_id", MIN(d), MAX(d), COUNT(*) FROM (
        SELECT "owner_id", d,
            CAST(julianday(d) AS INTEGER) - ROW_NUMBER() OVER (PARTITION BY "owner_id" ORDER BY d) AS run
        FROM (SELECT DISTINCT "owner_id", "studied_on" AS d FROM "study_day") AS days
    ) AS numbered GROUP BY "owner_id", run;
""",
    "postgres": """
CREATE TABLE IF NOT EXISTS "study_run" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "first_day" DATE NOT NULL,
    "last_day" DATE NOT NULL,
    "length" INT NOT NULL,
    "owner_id" UUID NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_study_run_owner_i_87ea0e" UNIQUE ("owner_id", "last_day")
);
CREATE INDEX IF NOT EXISTS "idx_study_run_owner_i_d7b535" ON "study_run" ("owner_id", "length");
COMMENT ON TABLE "study_run" IS 'A streak: a run of consecutive days on each of which the user has a record, from';
CREATE TABLE IF NOT EXISTS "study_subject" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "subject" VARCHAR(100) NOT NULL,
    "minutes" BIGINT NOT NULL,
    "records" INT NOT NULL,
    "owner_id" UUID NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_study_subje_owner_i_f7b086" UNIQUE ("owner_id", "subject")
);
COMMENT ON TABLE "study_subject" IS 'Minutes and records of one user and subject over every day; a row exists while';
INSERT INTO "study_subject" ("owner_id", "subject", "minutes", "records")
    SELECT "owner_id", "subject", SUM("minutes"), SUM("records")
    FROM "study_day" GROUP BY "owner_id", "subject";
INSERT INTO "study_run" ("owner_id", "first_day", "last_day", "length")
    SELECT "owner_id", MIN(d), MAX(d), COUNT(*) FROM (
        SELECT "owner_id", d,
            (d - DATE '2000-01-01') - ROW_NUMBER() OVER (PARTITION BY "owner_id" ORDER BY d) AS run
        FROM (SELECT DISTINCT "owner_id", "studied_on" AS d FROM "study_day") AS days
    ) AS numbered GROUP BY "owner_id", run;
""",
    "mysql": """
CREATE TABLE IF NOT EXISTS `study_run` (
    `id` BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `first_day` DATE NOT NULL,
    `last_day` DATE NOT NULL,
    `length` INT NOT NULL,
    `owner_id` CHAR(36) NOT NULL,
    UNIQUE KEY `uid_study_run_owner_i_87ea0e` (`owner_id`, `last_day`),
    CONSTRAINT `fk_study_ru_user_e3027bee` FOREIGN KEY (`owner_id`) REFERENCES `user` (`id`) ON DELETE CASCADE,
    KEY `idx_study_run_owner_i_d7b535` (`owner_id`, `length`)
) CHARACTER SET utf8mb4 COMMENT='A streak: a run of consecutive days on each of which the user has a record, from';
CREATE TABLE IF NOT EXISTS `study_subject` (
    `id` BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `subject` VARCHAR(100) COLLATE utf8mb4_bin NOT NULL,
    `minutes` BIGINT NOT NULL,
    `records` INT NOT NULL,
    `owner_id` CHAR(36) NOT NULL,
    UNIQUE KEY `uid_study_subje_owner_i_f7b086` (`owner_id`, `subject`),
    CONSTRAINT `fk_study_su_user_61c61eb3` FOREIGN KEY (`owner_id`) REFERENCES `user` (`id`) ON DELETE CASCADE
) CHARACTER SET utf8mb4 COMMENT='Minutes and records of one user and subject over every day; a row exists while';
INSERT INTO `study_subject` (`owner_id`, `subject`, `minutes`, `records`)
    SELECT `owner_id`, `subject`, SUM(`minutes`), SUM(`records`)
    FROM `study_day` GROUP BY `owner_id`, `subject`;
INSERT INTO `study_run` (`owner_id`, `first_day`, `last_day`, `length`)
    SELECT `owner_id`, MIN(d), MAX(d), COUNT(*) FROM (
        SELECT `owner_id`, d,
            TO_DAYS(d) - ROW_NUMBER() OVER (PARTITION BY `owner_id` ORDER BY d) AS run
        FROM (SELECT DISTINCT `owner_id`, `studied_on` AS d FROM `study_day`) AS days
    ) AS numbered GROUP BY `owner_id`, run;
""",
}

DOWNGRADE = {
    "sqlite": """
DROP TABLE IF EXISTS "study_subject";
DROP TABLE IF EXISTS "study_run";
""",
    "postgres": """
DROP TABLE IF EXISTS "study_subject";
DROP TABLE IF EXISTS "study_run";
""",
    "mysql": """
DROP TABLE IF EXISTS `study_subject`;
DROP TABLE IF EXISTS `study_run`;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXe1z2jga/1c0fLlkJptpCXnZ9uZmSEJbdpPQS8hdZ5sdV2AB3hiJleQQptf//ST5/R"
    "UbDCGuv2SCpEeyf4/9vEv+3pgSHZnssG3xyR1izCC48Q58b2A4ReKfpO4D0ICzmd8pGzgc"
    "mGo8FAM1Fhg5YJzCIRd9I2gyJJp0xIbUmHF7qUYPI2CSsYEPQX+CgA7FXJAhQMkcGAxw0S"
    "YnJdTgC0AwoOiJDKGkfq86GScUiQ5zAYZwOEEMGPxQLq2ToVjbwOONrmJh428LaZyMkRhH"
    "xVpf/xTNBtbRM2Ly59eGxRDVDF0Ol/M+Il2DvPGnHDd71EYGMvUQ6PZQ1a7xxUy13d93Lz"
    "+okfLWBtqQmNYU+6NnC3H12BtuWYZ+KGlk3xhhRCFHeoAL2DJNh2luk30rooFTC3n3oPsN"
    "OhpBy5S8bPxzZOGhhAeoleSf1r+cSwsM07SbXl+76/Q1rRFjvbyECJ+cpiHB8rExMJcIfv"
    "9hz+sDolobcoGLT+3bvaOTfQUBYXxMVaeCq/FDEQpW26SKGz7KQ4okJpIVMbQvRQ83pigZ"
    "8TBlBHndIT10/1mFA26DzwL/7XHBdeHbAODiMYV6TzzsDu8zGNDvXnfu+u3rz3K5KWN/mw"
    "q/dr8je5qqdRFp3bP5RYRgsKWGNwn4b7f/Ccif4I/eTSfKVW9c/4+GvCbxyhINk7kG9cBj"
    "6ra6qImRPtfR88wQs63A9TBlBbn+SrjsYpLJ5oCcLcjmMGUJbHaeyprL5XM5oFjzassASZ"
    "kqc3eZukRDSiNk9JioICVUcWg/CEPIGOPf0UIB3BXXAfEQJQDq2I73zjSvE1K/1X+VKZx7"
    "VlvwgRL3Lu4YcXX3F+27i/Zlp6EQHsDh4xxSXUuBmqKRYMtEmJGPCLM46OcO/Yffb5GpzN"
    "J0vG/tufpyqgrhrnAkTRLAL4RsvGvanEZbIIZjdUtybblSEmYJ/k8U03QHKMTJfB5QGwMy"
    "gwJ84BADRXxgOx06gNLZYODuU/uX5vHJe8BmCHOwJx48qaUAQ3xfuiwjgzIORGvc+9nICn"
    "k8H8cTlO9HMXfn3Bh3MS/g8MgHJfKwO2/rep7OJq3ssbyEX35tNo+OTptvjk7Ojlunp8dn"
    "b87EWHW98a7TDEl/3v3YvemHtbFsyHaD1JOgTSCbxLlwMYE0mQdhqggvxE1uxu3cJDOm8F"
    "kzER7zifh50srA+T/tW6VUT1oR0+fG6Wmqrh8hU6X2NtOhr73N2tvcVS7n9UNWebMDZLWf"
    "ucv8DZgxMRanu5phqtrbzPY2A0mDNR3OSLLidYK71O8MP11FXc9NOlPK4U9wotxAQLrz5E"
    "YclvpM6Wgu90rqtMuLpl3QFBpmHOjOs+B3ur/hUVXO1Thqvsnha4hR+yG9GOwAF72rK6En"
    "gcVHZ9NBSxsYOM0zUROFXRPpxQlDZAYZmxOa8BKksyWBtBwGvbRLEmLR2zfNPP6gHJbqEd"
    "qdYeB1g81MuNDU7wKoR+m2B3ljU7ImCnied0KMyoA79pjPBEaFYPYIVsI3ao7vkMh5e5IH"
    "3ajBHQD3JIqtIRxVoZeeEvA9J8REEKco0SBdBOaBINzUc+xiv12ted7rXYVcnvNuJFx3c3"
    "993hHYK+jFIIOHonghwJk1QzQ5R7MM8xDpFmH3Wl4z7k+IGmKVpKD1EtiDlDXqBVCvg6fp"
    "kr1awdNYgCBP9jRYdLhm8rSasYNoTJpQrv1FBmti1VET/UYGVUWKcUtfaDpcrAnUnZznEi"
    "6qjRNFQ+EClgHVrZqp4mhZ64oqGyqrsnLKxolZg7/QkJeB1Z09VZXwKhTGTX5hxawWTrCr"
    "XHh7GPWJ+FPo3b1w53yVOatknAtEwH3NmBAGD6nN9Fi4r6ZzRcTVDgebBkBZo0MBZI9IBy"
    "NC34uWOaGPom1OhZFtV/uMDBMBSwBNQefL595tX7vs3ibvnChp3jwVQ2SOvXq6gPEuxoX7"
    "GIfcYvUmiheO5jtsiCEto2odbE1jKbtwhtSj3mIIUwy1kF4Q5sa/7zv3nct3wKZ+wLf3Nz"
    "fdm4/vgFDkWOD+gC+FF/QO6ASjB/yh3b2So0dQvAx69J3KE6M7yxGiO0uN0J1FA3TibZ0m"
    "ec/p0U+fooIR/eMc6B6nonscQ9cwOaIJr8Fvd72bFHh9kmhUwhhy8D9gGmxjpkpA8gwscS"
    "EGZody2ZcQPhKiUEDCxXnvuv0lyoKLq955VErJCc4jDIGmqSltkWQ3ZkXpwoR1kK5AkI6S"
    "eQLaqVW87vDldby7bzc6lbzNt63T1tnRScsr4PVasup241AOFsKYSnhyM4qiPZIK4bmVyu"
    "hAYIxSkpBMyShKcAlKSRC+NOYhBdnMlYFtZmRgm/EMLOQcTWeFrJAASfVAPmrmqvxIhVh2"
    "JSJcRA4HSVaSHSupuzevRBLXmad0qKuVeQqHHiFdjethyrqqe5erukcGNlT5WnE2R0hrPu"
    "8yn3doE85yLm+zKqxKTA7GhvMGfYM09faM7O0ZCqs4uPVpAOFdGcFHapf2ZHglCAkJqWB5"
    "Qno+yiuGyJeOujawJTNCEOvAqQwAZAQIRiqJdADETKrTSfDKXJI8jAs9G4wzMJ/ILJJLqJ"
    "N4XmoTCyQkqL76T75EwBA6386BOtPaGahVt5fU29zLDeZkJaqCzIsbAWnmfJAqywB4vTIt"
    "CWOp0iOeMPOrJ/IGbwIkFcwhbWSTwtSWasUkRYCoMhGcLcd+U4vX0vMXPkVlQC8tbFZb47"
    "U1Xlvj2da4U+WaZpD7RbDLbHLqj9zkvulo/VXQMpLnO0UrtAJaKak7HB9PGuFZ2LIjeb2E"
    "NeLzFrLIfxZzfE1Rn2Fo13biFuxEbnCz0GZWj6CCCG8kWZ1qie+WGb7zkqJ2wUtzwTFJfC"
    "D76DnlifQIKnBCQFayovOlH8pTxEoIvVzFVe/mozs8WldYZ/7rzL8101fkepiy5vqucD0h"
    "exjbalaHK+pwRR2uyBOusDf2ZccsvM1/+QIX/gbE5VnFT2QOxGUu/Iyfk+4DE8jAnvxSj8"
    "zxiYURpAzMDT5Rn++xT64Wg/fjicSS5iz54Lk6DrFmHKKO6JcA726qyBd9bktUkEWk+VJl"
    "6u7T3rAq3QXsy1akZSnHPuHQXKIc7TH5lSP3xi//joRpujrsABgYQDBCc8BMwoUaGyyAQm"
    "UfMCLUF+T2lm2qimZ0YzRCVH7zQeo9BiikyFzENGXZCzzgOTS43EmudK7QsvbH9tQ9u5/l"
    "Y9ZUzqD+lSutq2zlJPG3524KTTNVM7g05aiFXVC7R83TE08lyB9Z2uDuun11tYbGzapdqK"
    "LS3ULtwlq6pGzhZyV+Myd4Ps1SYWfl/VYOECMQfHwnq/ksLCWD5AEaWvIUSVnzJ+13gOBw"
    "IvvmE2NoW+ueQQ8dEXYARpRM4zKu5AUe8DflKMjKyW9CsoFvJnR/7X2zUxjf1LT7B7ZvgY"
    "kzgZpWVjEO0Eh9fZQCOBIS9fABt9Vy/2DyEhnA6EmszYklr0nIUvHLhDMlSxdgOIF4jMSF"
    "Iimw5XRj8by6R3VIF8Ze7QHv2Xc8ljtzDwCfEzBFdCyY4MhntbeF7cufJmHOaR/ybsCe6p"
    "4IDB8FJZuZskcMGxPEUr2jQGWlC0msmDKcEHYSPvWXhHazxNJ7zoukd0JEP3V2x3sJCqAX"
    "pPm5wbNFQwy61FffJ6hztTvu7u/ug1hHxHfLkd+u3eueJ5hm+wbOG1xm/wYqoNbeWhPc9K"
    "JsQSDNw4U0/ZL2wMQs4HKnf8CBPTagP1FmJLfD6MSSZ8pRZZ/K5KI0WOUNO8EAMBOTOyvl"
    "2Z5Tb8h5TdZiXSdY7yepVkym3k9Sm6O1OfoaBfFrN0fblm7wKzJOMkW9vkwzFMpRmukM2+"
    "w2kuSdH9K2zNwaQoW5iNK77bNkBQ/1lEG1HbiTdmBdZ7uKqN/xCst4YS1FAlLGE3V4usUf"
    "pqqi0d/Mc9CzGJVu9Ddjhz1PhewlhXD2KaqIcemfu5vBpFhzxpcEYWKouTRwX+5Tgsdv85"
    "xhKUalH6b9NnaKpafpc4sJl6B6Z4Q2j/OcVS5Gpe9tO46dVy7ukybkmdIB9ggqsJEounew"
    "lUcCy2EZuwdbMRkcMUcLVRuFSauUn1q97Cjw1VyLqg/RaNOE8MoHk8AUWCN0EVhHkvAVAp"
    "uVJu3dn191wOfbzkX3ruucsu8ZhapTxc29M91vO+2r6C4400BY2F+zItIiRFQ9kdzKI5Fb"
    "6QK5FZPHyvcVrn3Sd5jSYQ5TVQ/n5nEew02MylB9MdMtEGbIG0gMkKwRR9wxqFcPI4a9Oj"
    "aT1XHaCl8siNNWJu798xSAthE1hpNGUtzR7jnIjDr6YzYZcqw3Xm1z49UTou7nc/NqsgBJ"
    "BeMPG3Hh5EtVAGFneAXR3UjaXKzIE62x9A96BUi2/0GvlzEUSvt014sqsx//B6EICww="
)
