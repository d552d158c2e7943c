"""Migration 1_20261122064205_auth_sessions.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.

Edited by hand: DOWNGRADE drops "refresh_token" before "auth_session", which it references
(aerich wrote the reverse order, which PostgreSQL and MySQL refuse).
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
CREATE TABLE IF NOT EXISTS "auth_session" (
    "id" CHAR(36) NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "revoked_at" TIMESTAMP,
    "user_id" CHAR(36) NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE
) /* One login. The database row is the authority on revocation; the store only caches it. */;
CREATE INDEX IF NOT EXISTS "idx_auth_sessio_user_id_c91637" ON "auth_session" ("user_id", "revoked_at");
CREATE TABLE IF NOT EXISTS "refresh_token" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "session_id" CHAR(36) NOT NULL REFERENCES "auth_session" ("id") ON DELETE CASCADE
) /* An opaque refresh token, stored as its SHA-256; spent (used_at set) on first use. */;
CREATE INDEX IF NOT EXISTS "idx_refresh_tok_session_e0eedc" ON "refresh_token" ("session_id");
""",
    "postgres": """
CREATE TABLE IF NOT EXISTS "auth_session" (
    "id" UUID NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "user_id" UUID NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_auth_sessio_user_id_c91637" ON "auth_session" ("user_id", "revoked_at");
COMMENT ON TABLE "auth_session" IS 'One login. The database row is the authority on revocation; the store only caches it.';
CREATE TABLE IF NOT EXISTS "refresh_token" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "used_at" TIMESTAMPTZ,
    "session_id" UUID NOT NULL REFERENCES "auth_session" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_refresh_tok_session_e0eedc" ON "refresh_token" ("session_id");
COMMENT ON TABLE "refresh_token" IS 'An opaque refresh token, stored as its SHA-256; spent (used_at set) on first use.';
""",
    "mysql": """
CREATE TABLE IF NOT EXISTS `auth_session` (
    `id` CHAR(36) NOT NULL PRIMARY KEY,
    `created_at` DATETIME(6) NOT NULL,
    `expires_at` DATETIME(6) NOT NULL,
    `revoked_at` DATETIME(6),
    `user_id` CHAR(36) NOT NULL,
    CONSTRAINT `fk_auth_ses_user_e8478734` FOREIGN KEY (`user_id`) REFERENCES `user` (`id`) ON DELETE CASCADE,
    KEY `idx_auth_sessio_user_id_c91637` (`user_id`, `revoked_at`)
) CHARACTER SET utf8mb4 COMMENT='One login. The database row is the authority on revocation; the store only caches it.';
CREATE TABLE IF NOT EXISTS `refresh_token` (
    `id` BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT,
    `token_hash` VARCHAR(64) NOT NULL UNIQUE,
    `created_at` DATETIME(6) NOT NULL,
    `expires_at` DATETIME(6) NOT NULL,
    `used_at` DATETIME(6),
    `session_id` CHAR(36) NOT NULL,
    CONSTRAINT `fk_refresh__auth_ses_e057cc6c` FOREIGN KEY (`session_id`) REFERENCES `auth_session` (`id`) ON DELETE CASCADE,
    KEY `idx_refresh_tok_session_e0eedc` (`session_id`)
) CHARACTER SET utf8mb4 COMMENT='An opaque refresh token, stored as its SHA-256; spent (used_at set) on first use.';
""",
}

DOWNGRADE = {
    "sqlite": """
DROP TABLE IF EXISTS "refresh_token";
DROP TABLE IF EXISTS "auth_session";
""",
    "postgres": """
DROP TABLE IF EXISTS "refresh_token";
DROP TABLE IF EXISTS "auth_session";
""",
    "mysql": """
DROP TABLE IF EXISTS `refresh_token`;
DROP TABLE IF EXISTS `auth_session`;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXG1z2jgQ/isef0pn0kziAMldb24GUtJyJdAJ5K7TTsej2AJ0MbJryUmYXv77ScI2lt"
    "+wkzgBly+doN2V8LPyap9d0Z/q3DahRQ7aHp2NICHIxurvyk8Vgzlkf6SJ9xUVOM5KyAco"
    "uLaEPmCKOoloXhPqAoMy2QRYBLIhExLDRQ5dLqUOMVQse4rwgTKeQcUEbC5AoOLadwoiCm"
    "VjfFLbRXSh2Fhx4a1tAG79TggJtV3IBNZCMYAxg0RB9IAvbdoGWxvhaaWreBj98KBO7Slk"
    "ei5b69t3NoywCe8h4R+/qR6Bro5Mrs7nvYGmDqj6nes5N/oEQcuUQF+qinGdLhwxdnXVe3"
    "8uNPmjXeuGbXlzvNJ2Fuzb41Dd85B5wG24bAoxdAGFZsQL2LMs32nB0PJR2AB1PRg+g7ka"
    "MOEEeBb3pfrHxMMGh0cRK/F/Gn/6Xy2ipuuD4Vgfdce6riZcz79CzE/+kGFjvm0QphzBnw"
    "/LeVeAiFGVL3D2sX25d9x6IyCwCZ26QijgUh+EIXP10lR4Y4Wy4UKOCXdFAu33TELRHKYj"
    "LlvGkDd904Pgj8d4IBhYuWD19gTgBvBVADjbpsAcss3u+z7HAePeRXc0bl985svNCflhCf"
    "za4y6XaGJ0ERvdW/rLZoFhGTXCSZR/euOPCv+ofB0OunGvhnrjryr/TuyVtXVs3+nAjGzT"
    "YDRAjWmuvA7vHcRme4TXZcsaen1LvBxgkuvmSJwt6WbZ8hnc7O/KnZef38uRg7XoaRkxec"
    "4jc3OduuaE5EnI5Cb1gORQJaE9Z4kQmuJPcCEA7rHvAbABUwD1c8crf5rthHQ1unqVXXAX"
    "Zm3RDcWenT0xpOLpz9qjs/b7rioQvgbGzR1wTT0DahdOmFtmLI28gZgkQe/49uefLqEl0t"
    "JsvC+Xc435VDXCXeBoa3YEPwnZpGiuzeMjAIOpeCS+Nl8pDbMU/hPHNJsASZ4sxoDaWLEd"
    "wMBXfGNFGO8vSYepAE42iDL62H6rNVvvFOJATJU9tvH4KaUQSN9wyjJBLqEKG02yn0pWKM"
    "J8fCbI349ydKeDpj1MSxAevlFim91/W5/GdKrMsqf8K7z9TdOOj0+0w+PWabNxctI8PTxl"
    "uuL7JkUnOZG+0/vQG4zl05gP5NMgsRP0GSCzpBfOZsBN94FsFfMFe8hqaGeVzpiDe92CeE"
    "pn7GOrkYPz3+1Lcai2GrHUZ+BLNCF6kFKVHdvMhn7HNndsc1O9XJSHPObNjpjteOYm+zeS"
    "xiRcnE01Zasd28xnm5GmwRMJZ6xZsZ3gruWd8u4qSz2rJFOC8KeQqKAQkE2egorDWs6Uje"
    "Z6VrJru7xq2wXOAbLKUI3QoHYs41g7LEAzmFYmzxAymWhwTsbSCgcQcme7KVs6G+kU0+fB"
    "/LUJhoT60aFWhN1xtUzcl0IZeBMRxwILXXwugXrc7uUgV6uKHHHAi2xzppUDd2KbI0aNWC"
    "S8TYG6Y9sWBDgjbEftYlBfM8OqsA6izMvG6c5w2JeS7E4vViAaXF10ugx9gT1TQlSqG0mA"
    "E8+BbnpXYB3mkukLwh6ObDPut9BFbJW0Muka2KOWO9RLoL4r12UH93qV6xKUtEi/LnrN7Y"
    "ntunqyVbl8Qj1zobvQYEnlE9Ea8akuxUx1QqtKOh6FLIWVxxDNJudRL1ZO0r+p9h0OG+t8"
    "aXaK6WxapheTedf/QqPsdcpfpbmoHTVOGqfHrUbYUwxH8lqJ69uGAewJZLOJTsSklrSyAp"
    "ZDEbVKkcnQoIYIa4UQ1nIQ1pIIzxH2KEw5lTIjRMRifZjYBpCfJVLIp70frFNT54zgIFnl"
    "pc1bCHEOfjztjQGI7dQNOYb3GTsyNKhB6SiPTXS/jCUiEbzYexftL28kMtEfDj4E6pFAcN"
    "YfdnZE7xclelLD3jEf6XXZcuf1TfF6Sh8/wUOjtKFomy9qs2vh57fwBVZJcHc3xuXOfXRL"
    "bVLfvs0yMNq3p2rqD0B92X7+rz+Zlm75ahvTxN9dJuayl7hMvF3Z1Ev6Z3uP0WT25EKGKK"
    "GpJ2l2aUK2qmF94kg7LVIB0k6zK0BcFqtPsAhol8J5ZVFHjFtFII6/HBGEW3GAHUBL/fIh"
    "0K8K3Ne7jtQ80gqAy7Qy0RUyGV7X9mipCmZo8CiAN+wSdKyA2WwWKWA2m9kFTC6TAWbP6S"
    "7KABwa1KBaFC8QN4pEYK6WUyJuJGIw4yvUIwxCM2Unj+bAsjLTy5hpVQXjV8g0j7WTVphb"
    "8g952eToot3vJ0vFpueKfq8+T6l3nls2yEA1ZhdDdcINt/Cky6sSD686/a7y+bJ71hv1hg"
    "M5JxRC0QsNb7Rcdtv9eKXTQhCz9MspEywko/pF5EaRgNzIjseNRDgWPwdn/BqXao3KVvXD"
    "WWsWyduYVs7Jl8jcXu1/f1gP9YYwy7XX9KOcjjhsXqhfL1K7T3k1lKTtyzVGD6s95V6gnl"
    "LiAlql1T/oImOmptX+lpL93MrfSmdjyn6/Ss2vsjs+t9BN/0le9kEWMalh9aESAsdfqhII"
    "++o1RLeSG1RsRZqajP01Gg4yct6VSbwOjQyq/KdYiNSMX3AwpOpz4mpF/BZFLKPgE3Re+z"
    "B7+B/b6y6C"
)
