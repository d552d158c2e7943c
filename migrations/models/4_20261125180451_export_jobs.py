"""Migration 4_20261125180451_export_jobs.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": 'CREATE TABLE IF NOT EXISTS "export_job" (\n    "id" CHAR(36) NOT NULL PRIMARY KEY,\n    "status" VARCHAR(8) NOT NULL /* QUEUED: queued\\nRUNNING: running\\nDONE: done\\nFAILED: failed */,\n    "format" VARCHAR(5) NOT NULL,\n    "filters" JSON NOT NULL,\n    "all_owners" INT NOT NULL,\n    "rows" INT,\n    "bytes" BIGINT,\n    "error" VARCHAR(200),\n    "attempt" VARCHAR(32),\n    "attempts" INT NOT NULL,\n    "created_at" TIMESTAMP NOT NULL,\n    "started_at" TIMESTAMP,\n    "finished_at" TIMESTAMP,\n    "expires_at" TIMESTAMP,\n    "owner_id" CHAR(36) NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE\n) /* One export a user asked for; a worker writes its file under EXPORT_DIR. */;\nCREATE INDEX IF NOT EXISTS "idx_export_job_expires_5f15c6" ON "export_job" ("expires_at");\nCREATE INDEX IF NOT EXISTS "idx_export_job_owner_i_3b46e5" ON "export_job" ("owner_id", "created_at");\nCREATE INDEX IF NOT EXISTS "idx_export_job_owner_i_8c7da1" ON "export_job" ("owner_id", "status");\n',
    "postgres": 'CREATE TABLE IF NOT EXISTS "export_job" (\n    "id" UUID NOT NULL PRIMARY KEY,\n    "status" VARCHAR(8) NOT NULL,\n    "format" VARCHAR(5) NOT NULL,\n    "filters" JSONB NOT NULL,\n    "all_owners" BOOL NOT NULL,\n    "rows" INT,\n    "bytes" BIGINT,\n    "error" VARCHAR(200),\n    "attempt" VARCHAR(32),\n    "attempts" INT NOT NULL,\n    "created_at" TIMESTAMPTZ NOT NULL,\n    "started_at" TIMESTAMPTZ,\n    "finished_at" TIMESTAMPTZ,\n    "expires_at" TIMESTAMPTZ,\n    "owner_id" UUID NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE\n);\nCREATE INDEX IF NOT EXISTS "idx_export_job_expires_5f15c6" ON "export_job" ("expires_at");\nCREATE INDEX IF NOT EXISTS "idx_export_job_owner_i_3b46e5" ON "export_job" ("owner_id", "created_at");\nCREATE INDEX IF NOT EXISTS "idx_export_job_owner_i_8c7da1" ON "export_job" ("owner_id", "status");\nCOMMENT ON COLUMN "export_job"."status" IS \'QUEUED: queued\\nRUNNING: running\\nDONE: done\\nFAILED: failed\';\nCOMMENT ON TABLE "export_job" IS \'One export a user asked for; a worker writes its file under EXPORT_DIR.\';\n',
    "mysql": "CREATE TABLE IF NOT EXISTS `export_job` (\n    `id` CHAR(36) NOT NULL PRIMARY KEY,\n    `status` VARCHAR(8) NOT NULL COMMENT 'QUEUED: queued\\nRUNNING: running\\nDONE: done\\nFAILED: failed',\n    `format` VARCHAR(5) NOT NULL,\n    `filters` JSON NOT NULL,\n    `all_owners` BOOL NOT NULL,\n    `rows` INT,\n    `bytes` BIGINT,\n    `error` VARCHAR(200),\n    `attempt` VARCHAR(32),\n    `attempts` INT NOT NULL,\n    `created_at` DATETIME(6) NOT NULL,\n    `started_at` DATETIME(6),\n    `finished_at` DATETIME(6),\n    `expires_at` DATETIME(6),\n    `owner_id` CHAR(36) NOT NULL,\n    CONSTRAINT `fk_export_j_user_fdb599a9` FOREIGN KEY (`owner_id`) REFERENCES `user` (`id`) ON DELETE CASCADE,\n    KEY `idx_export_job_expires_5f15c6` (`expires_at`),\n    KEY `idx_export_job_owner_i_3b46e5` (`owner_id`, `created_at`),\n    KEY `idx_export_job_owner_i_8c7da1` (`owner_id`, `status`)\n) CHARACTER SET utf8mb4 COMMENT='One export a user asked for; a worker writes its file under EXPORT_DIR.';\n",
}

DOWNGRADE = {
    "sqlite": """
DROP TABLE IF EXISTS "export_job";
""",
    "postgres": """
DROP TABLE IF EXISTS "export_job";
""",
    "mysql": """
DROP TABLE IF EXISTS `export_job`;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXVtv2zgW/iuEn1IgEySOc9l2sYCTOK1nkribOLvFtAOBtmhbE5n0kFQdo9v/viR1ly"
    "hZcuzE1ugliMlzSOk7FM9V1I/GlJjIZgdth08eEGMWwY334EcDwykS/+i690EDzmZhp2zg"
    "cGAreigIDRahHDBO4ZCLvhG0GRJNJmJDas24O1WjhxGwydjCB6A/QcCEYizIEKBkDiwGuG"
    "iTgxJq8QUgGFD0nQyh5P6gOhknFIkOewGGcDhBDFj8QE5tkqGY28Ljjc7iYOsvBxmcjJGg"
    "o2Kur3+IZgub6Bkx+fNrw2GIGpYpyeW4T8g0IG/8IelmT8bIQrYZA90lVe0GX8xU2+Nj9+"
    "paUcpbGxhDYjtTHFLPFuLqcUDuOJZ5IHlk3xhhRCFHZkQK2LFtT2h+k3srooFTBwX3YIYN"
    "JhpBx5aybPxz5OChhAeomeSf1r+8S4uQGcZdr288dPqG0UiJXl5CQk5e05BguWwszCWCP3"
    "6644aAqNaGnODyU/t+7/j0nYKAMD6mqlPB1fipGIWoXVYljRDlIUUSEymKFNpXoodbU6RH"
    "PM6ZQN70WA/8f1aRgN8QiiB8enxwffg2ALhYptDsicXuyT5HAP3ubeeh3779LKebMvaXrf"
    "Br9zuyp6laF4nWPVdeRGwM7q4RDAL+2+1/AvIn+L1310lKNaDr/96Q1yQeWWJgMjegGVmm"
    "fquPmqAMpY6eZ5YYbQWpxzkrKPUdkbKPSa6YI/tsSTHHOdcgZm9V1lJev5QjirWotoywrF"
    "Nlbq9Ql2hIaYSMnrQKUkKVhvZaGELWGP+GFgrgrrgOiIdIA6hnOz56w+wmpGFr+ChTOA+s"
    "tuiCEvcu7hhxdfeX7YfL9lWnoRAewOHTHFLTyICaopEQy0SYkU8IszToFx7/9W/3yFZmaT"
    "be9+5YfTlUhXBXOJImieAXQzbdNW1Oky0Qw7G6JTm3nEmHmcb/SWKa7QDFJFnMA2pjQGZQ"
    "gA88ZqCY912nwwRQOhsMPHxq/9I8Of0A2AxhDvbEwpNaCjDE30mXZWRRxoFoTXs/G5mhiO"
    "fjeYLy+Sjn7lxY4y7mJRweuVASi917Wl/m6WzSyh7LS/jlH83m8fFZ8/D49PykdXZ2cn54"
    "LmjV9aa7znJ2+ovux+5dP66NZUO+G6RWgjGBbJKWwuUEUr0M4lwJWYib3IzbuUlhTOGzYS"
    "M85hPx87SVg/N/2vdKqZ62EqbPndfTVF0/Y6ZK7W1mQ197m7W3ua1SLuqHrPJkR9hqP3Ob"
    "5RsxY1IiznY141y1t5nvbUaSBi90OBPJit0Ed6nfGV9dZV3PTTpTyuHXOFF+ICDbefIjDk"
    "t9pmw0l3slddrlTdMuaAotu4yrETBUzss4bh4WcDMEVaafofrijob0yYRZMYOMzQnVLOls"
    "pDWs68H8rR2MGOpHh80i3p0ky8Td7YwDb1psZsOFoX6XQD3J93qQNza1cyQBL7LMBVUO3K"
    "llbgnXSOyE3zVQXxBiI4gztu0oXwLqgWDcFNb+LvO6+/RFr3cTM7IvuokA0d3j7UVHoK+w"
    "F0QWj8WNYoAzZ4aoPiuwDPMY6yvCHrTsMu7fEbXELLow6RLYo5w16iVQr8N12Zt7tcJ1KZ"
    "e0SL4uWub2wnRdNb3VZBSUUG78SQYvxKqjBvqVDKqKFOOOuTBMuHghUA9ynCu4qDZOFA2F"
    "m7IOqO7VSFVCq1SARw+sGNXBGv3no9vDqE/En1IYX/pj7mQ0W49zidhYuINpAmSx7S07Sh"
    "Zup4ViZar22eUBUGbvKYDsCZlgROgH0SJc/SfRNqfCGHLrAEaWjYAjgKag8+Vz775vXHXv"
    "9TXVaxq3SC0BmeOg0iZiZAm6eB/jkDusLq9+4zifJ4YU0jIQ0sHONBXMj+dOAu5XDIcIUg"
    "eZJWFu/Pux89i5eg9c7m/4/vHurnv38T2gDsYC92/4Slir74FJMPqGr9vdG0k9guJhMJPP"
    "VJFwynmBYMp5ZijlPBlIEU/rVOflZAesQo4KRgdPCqB7konuSQpdy+aIah6DXx96dxnwhi"
    "xJ79EacvA/YFusiAZd7RkId56BIy7EwuxATvsWm4+EKOY4+jjv3ba/JEVwedO7SO5ScoCL"
    "hECgbRtKW+jMxrxoSpyxDqaUCKZQMtegnVnf55Mvr/DbfrvRq/FrHrXOWufHp62gtC9oya"
    "voS0M5WAhjSrNyc8olA5YK4fkqNZORAAalRBP0zslZ+gwrachtwzymIJuFsjnNnGxOM53N"
    "gZyj6ayUFRJhqR7Ix81CieGcvHAGwmX24SjLSnvHSurucEd24jpDkA11tTIE8cAjpKtJPc"
    "5Z13tuc73nyMKWKoUpL+YEay3nbZbzFpXnL5fya9apVUnI0dhw0aBvlKcu3M4v3FZYpcGt"
    "3xOO12tHl9Q2VWsHqWJNQiqaRs7ORwVJ62LpqFsLOzIjBLEJvAwuICNAMFJJpH0gRlKdzB"
    "n8iYZc5pLkMT3o2WKcgflEZpF8RpOk81KbmECToPoarnyJgCV0vpsD9YZ1M1CrFp7XL8Cu"
    "N5iTl6iKCi9tBGSZ81GuPANgd/c0HcZSpSc8YX+9p9DLDt5EWCqYQ9pIwfPU3dXK7RQRps"
    "pEcF459ptZZJSdvwg5KgP62sJmtTVeW+O1NZ5vjXvViFkGeVisuMwmpyHlJt+oTNZfRS0j"
    "efJLskIropV03fH4uI4isLBlh34+zRzpcUtZ5H8Xc/yFW32OoV3bia9gJ3KL26XePwwYKo"
    "jwRpLVmZb4dpnhW79T1C742lxwTLQLso+eM1ZkwFCBt43zkhWdL/1YniJVQhjkKm56dx99"
    "8mRdYZ35rzP/zsxcUepxzlrq2yJ1TfYw9aJZHa6owxV1uKJIuMJ9sS8/ZhG8/FcscBG+gL"
    "g8q/iJzIG4zEWY8fPSfWACGdiT3/CQOT4xMYKUgbnFJ+rDHu6ZtoL4XTqRuKYx13wkVR2H"
    "eGEcoo7orwHe7VSRb7pu16ggy+zmS5Wp/572hlXpNmC/bkW6LuXYJxzaS5SjS1NcOfKAfv"
    "kJ87bt67B9YGEAwQjNAbMJF2pssAAKlXeAEaG+IHdf2aaqaMa0RiNE5WnwUu8xQCFF9iKl"
    "Kdc9wTc8hxaXb5IrnSu0rPsZLnXP/ge7mDOVI6h/5UwvVbZykPTT8zCFtp2pGXye9aiFbV"
    "C7x82z00AlyB952uDhtn1z8wKNm1e7UEWl+wq1Cy/SJevb/NqOafEbMtZtekFf7mYHJZVh"
    "e2RbcyJsXZi3ztWat2vsVpx1SyzNLQ+wpeOqFAlEGdc6ENlJyzhXBTOXR80i53wIquzccD"
    "N11sdU7ICkFM4hRxUxPi0CcfLhiCB8mgR4Bnmpz+j49JsC9+3Otj45KvIKs6DKPkvlKPUS"
    "MyUOL1XbEDBU7xXx5kmRo2oEVXZpw0nquBpxn3RRBuCAoQJ55GTpSKvIDizJcopHWqk92D"
    "3ZSkBoalbyEmczzropr2innM7I+esOVccQGlONo3ltE5iBaoIvgepIMu6gpsurH+k9Xtx0"
    "wOf7zmX3oeudsRTYhKpTNoUn+tx32jfJGgjbQliYX7Mym0WMqXo7cqvIhtzK3o9bqe1YfV"
    "tU+Ne6UzizYY5zVQ/n5kkRu01Q5Wi+lOX2Zp8S3pkXv5eeBRn16dhMjIuMFY6rSvPW0b/d"
    "i/4hag0nDV3sz+3Zz438hTRbE/b7u8T8NpZ1/46o/vtu2YoswlLB6MNGHDj5UJVA2COvIL"
    "obebdCzMi1xlj2aa4Rltc/zfVtDIW1ndv6psrs5/8BMnWlJQ=="
)
