"""Migration 2_20261125122728_list_order_index.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
DROP INDEX IF EXISTS "idx_study_recor_owner_i_d73b3c";
CREATE INDEX "idx_study_recor_owner_i_f04094" ON "study_record" ("owner_id", "studied_on", "id");
""",
    "postgres": """
DROP INDEX IF EXISTS "idx_study_recor_owner_i_d73b3c";
CREATE INDEX IF NOT EXISTS "idx_study_recor_owner_i_f04094" ON "study_record" ("owner_id", "studied_on", "id");
""",
    "mysql": """
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_owner_i_d73b3c`;
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_owner_i_f04094` (`owner_id`, `studied_on`, `id`);
""",
}

DOWNGRADE = {
    "sqlite": """
DROP INDEX IF EXISTS "idx_study_recor_owner_i_f04094";
CREATE INDEX "idx_study_recor_owner_i_d73b3c" ON "study_record" ("owner_id", "studied_on");
""",
    "postgres": """
DROP INDEX IF EXISTS "idx_study_recor_owner_i_f04094";
CREATE INDEX IF NOT EXISTS "idx_study_recor_owner_i_d73b3c" ON "study_record" ("owner_id", "studied_on");
""",
    "mysql": """
ALTER TABLE `study_record` DROP INDEX `idx_study_recor_owner_i_f04094`;
ALTER TABLE `study_record` ADD INDEX `idx_study_recor_owner_i_d73b3c` (`owner_id`, `studied_on`);
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXG1z2jgQ/isaf0pn0kziAMldb24GUtJyJdAJ5K7TTsej2AJ8MbJryUmYXv77ScI2lt"
    "+wkzgBly+doN2V8LPyap9d0Z/K3DaQRQ7aHp2NECGmjZXfwU8Fwzlif6SJ94ECHWcl5AMU"
    "XltCHzJFjUQ0rwl1oU6ZbAItgtiQgYjumg5dLqUMMQKWPTXxARjPEDAgmwsSBFz7DpgEUD"
    "bGJ7Vdky6AjYGLbm0dcut3Qkio7SImsBZAh/oMEWDSA760YetsbRNPK13Fw+YPD2nUniKm"
    "57K1vn1nwyY20D0i/OM3xSPI1UyDq/N5b5ChQap853rOjTYxkWVIoC9VxbhGF44Yu7rqvT"
    "8XmvzRrjXdtrw5Xmk7C/btcajueaZxwG24bIowciFFRsQL2LMs32nB0PJR2AB1PRQ+g7Ea"
    "MNAEehb3pfLHxMM6hweIlfg/jT/9rxZR07TBcKyNumNNUxKu518h5id/SLcx3zYmphzBnw"
    "/LeVeAiFGFL3D2sX25d9x6IyCwCZ26QijgUh6EIXP10lR4Y4Wy7iKOCXdFAu33TELNOUpH"
    "XLaMIW/4pgfBH4/xQDCwcsHq7QnADeCrAHC2TaExZJvd932OA8a9i+5o3L74zJebE/LDEv"
    "i1x10uUcXoIja6t/SXzQLDMmqEk4B/euOPgH8EX4eDbtyrod74q8K/E3tlbQ3bdxo0Its0"
    "GA1QY5orr6N7x2SzPcLrsmUNvb4lXg4wyXVzJM6WdLNs+Qxu9nflzsvP7+XIwVr0tIyYPO"
    "eRublOXXNC8iRkcpN6QHKoktCes0TInOJPaCEA7rHvAbGOUgD1c8crf5rthHQ1unqVXXgX"
    "Zm3RDcWenT0xouLpz9qjs/b7riIQvob6zR10DS0DahdNmFtmLI28QZgkQe/49uefLpEl0t"
    "JsvC+Xc435VDXCXeBoq3YEPwnZpGiuzuMjEMOpeCS+Nl8pDbMU/hPHNJsASZ4sxoDaGNgO"
    "ZOAD3xgI4/0l6TAA5GSDgNHH9lu12XoHiIMwBXts4/FTChBE33DKMjFdQgEbTbKfSlYown"
    "x8Jsjfj3J0p2NOe5iWIDx8o8Q2u/+2Po3pVJllT/lXePubqh4fn6iHx63TZuPkpHl6eMp0"
    "xfdNik5yIn2n96E3GMunMR/Ip0FiJ2gzSGZJL5zNoJvuA9kq5gv2kNXQziqdMYf3moXwlM"
    "7Yx1YjB+e/25fiUG01YqnPwJeoQvQgpSo7tpkN/Y5t7tjmpnq5KA95zJsdMdvxzE32bySN"
    "Sbg4m2rKVju2mc82I02DJxLOWLNiO8Fdyzvl3VWWelZJpgThTyFRQSEgmzwFFYe1nCkbzf"
    "WsZNd2edW2C5pD0ypDNUKD2rGMY/WwAM1gWpk8Q8hkosE5GUsrHEjIne2mbOlspFNMnwfz"
    "1yYYEupHh2oRdsfVMnFfCmXgDZM4Flxo4nMJ1ON2Lwe5UlXkiANeZJszrRy4E9vcZNSIRc"
    "LbFKg7tm0hiDPCdtQuBvU1M6wK6yDKvGyc7gyHfSnJ7vRiBaLB1UWny9AX2DMlk0p1Iwlw"
    "4jnITe8KrMNcMn1B2MORbcb9FrkmWyWtTLoG9qjlDvUSqO/KddnBvV7lugQlLdKvi15ze2"
    "K7rp5sVS6fUM9YaC7SWVL5RLRGfKpLMVOd0KqSjkchS2HlMUSzyXnUi5WT9G+KfYfDxjpf"
    "mp1i2nJn8GbiPohpeNf/Ir3spcpfpcWoHjVOGqfHrUbYWQxH8hqK65uHAewJZLPpTsSklu"
    "SyAq5DTWqVopShQQ0RVgshrOYgrCYRnpvYoyjlbMqMEBGL9WFiG0B+lkghn/mrkJ1MoDOC"
    "g2SVlzxvIcQ5+PHkNwYgtlM35BjdZ+zI0KAGBaQ8TtH9MpboRPBi7120v7yRKEV/OPgQqE"
    "cCwVl/2NnRvV+U7klte8d4pNdly53XN8XrKd38BBuN0oaizb6oza6Rn9/IF1glwd3dG5f7"
    "99EttUnd+zbLwGjfniqpPwP1Zfv5vwFlWprlq21MK393pZjLXuJK8XZlUy/pn+09RpPZk4"
    "sYooSmnqTZpQnZqob1iSP1tEgFSD3NrgBxWaw+wSKgXQrnlUUdMW4VgTj+ckQQbsUBdiAt"
    "9fuHQL8qcF/vUlLzSC0ALtPKRFfIZHhd26OlKpihwaMA3rCr0LECZrNZpIDZbGYXMLlMBp"
    "g9p7soA3BoUINqUbxA3CgSgblaTom4kYjBjK9QjzAIjZSdPJpDy8pML2OmVRWMXyHTPFZP"
    "WmFuyT/kZZOji3a/nywVG54rur7aPKXeeW7ZMAPVmF0M1Qk33MKTLq9KPLzq9Lvg82X3rD"
    "fqDQdyTiiEohca3mu57Lb78UqnZSLM0i+nTLCQjOoXkRtFAnIjOx43EuFY/Cic8WtcqjUq"
    "W9UPZ7VZJG9jWjknXyJze7X/A2I91BvCLNde1o9yOuKweZF2vUjtPuXVUJK2L9cYPaz2lH"
    "uBekqJa2iVVv+Qa+ozJa32t5Ts51b+VjobU/b7VWp+ld3xuUVu+g/zsg+yiEkNqw+VEDj+"
    "UpVA2FevIbqV3KBiK9LUZOyv0XCQkfOuTOJ1aFOn4D9gmaRm/IKDIVWfE1cr4rcoYhkFn6"
    "Dz2ofZw/8MMi/f"
)
