"""Migration 7_20261206050000_audit_path_prefix_index.

Written by hand: an index no model can describe. `GET /audit-logs?path_prefix=` filters
with `path LIKE 'prefix%'` (app/platform/dialect.py `starts_with`); on PostgreSQL a plain
index serves LIKE only under the C collation, so the path gets a text_pattern_ops index
too. MySQL's index on the column and SQLite's (for GLOB) already serve the prefix.
The models are unchanged: MODELS_STATE is migration 6's.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
-- nothing changes on this database
SELECT 1;
""",
    "postgres": """
CREATE INDEX IF NOT EXISTS "idx_audit_log_path_prefix" ON "audit_log" ("path" text_pattern_ops);
""",
    "mysql": """
-- nothing changes on this database
SELECT 1;
""",
}

DOWNGRADE = {
    "sqlite": """
-- nothing changes on this database
SELECT 1;
""",
    "postgres": """
DROP INDEX IF EXISTS "idx_audit_log_path_prefix";
""",
    "mysql": """
-- nothing changes on this database
SELECT 1;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXe1z2jga/1c0fGpnupmGkJdrb26GJLRll4ReQu462+54BBbBGyOxklzC9Pq/nyS/27"
    "KxiUnA6y+ZID2PhH+PrOdV4kdrTkxks4Ouw2e3iDGL4NY78KOF4RyJf3Tdb0ALLhZhp2zg"
    "cGwreigIDRahHDNO4YSLvim0GRJNJmITai24O1VriBGwyb2FD8BohoAJxViQIUDJElgMcN"
    "EmByXU4itAMKDoO5lAyf1edTJOKBId9gpM4GSGGLD4gZzaJBMxt4XvtzqLg62/HGRwco8E"
    "HRVzff1DNFvYRI+IyY9fWw5D1LBMSS7HfUCmAXnrD0m3eDCmFrLNGOguqWo3+Gqh2u7u+p"
    "cfFKV8tLExIbYzxyH1YiW+PQ7IHccyDySP7LtHGFHIkRmRAnZs2xOa3+Q+imjg1EHBM5hh"
    "g4mm0LGlLFv/nDp4IuEBaib5p/Mv76tFyAzjejgybnsjw2ilRC+/QkJOXtOEYLlsLMwlgj"
    "9+uuOGgKjWlpzg4lP35tXRyWsFAWH8nqpOBVfrp2IUonZZlTRClCcUSUykKFJoX4oebs2R"
    "HvE4ZwJ502M98P/ZRAJ+QyiC8O3xwfXh2wLgYplCcygWuyf7HAGM+le921H36rOcbs7YX7"
    "bCrzvqyZ62al0lWl+58iJiY3B3jWAQ8N/+6BOQH8Hvw+teUqoB3ej3lvxO4pUlBiZLA5qR"
    "Zeq3+qgJylDq6HFhidE2kHqcs4ZS3xMp+5jkijmyz5YUc5yzAjF7q7KRcvVSjijWotoywl"
    "Klytxdoa7RkNIImT5oFaSEKg3tB2EIWff4N7RSAPfF94B4gjSAerbjnTfMfkIatoavMoXL"
    "wGqLLijx7OKJEVdPf9G9vehe9loK4TGcPCwhNY0MqCmaCrHMhBn5gDBLg37u8X/47QbZyi"
    "zNxvvGHWskh6oR7gpH0iYR/GLIprvm7XmyBWJ4rx5Jzi1n0mGm8X+SmGY7QDFJFvOAuhiQ"
    "BRTgA48ZKOY3rtNhAiidDQZuP3V/aR+fvAdsgTAHr8TCk1oKMMRfS5dlalHGgWhNez9bma"
    "GI5+N5gvL9KOfunFv3fcxLODxyoSQWu/e2Ps3T2aaVfS+/wi//aLePjk7bb49Ozo47p6fH"
    "Z2/PBK36vumu05yd/rz/sX89imtj2ZDvBqmVYMwgm6WlcDGDVC+DOFdCFuIht+N2blMYc/"
    "ho2Ajf85n4eNLJwfk/3RulVE86CdPn2utpq66fMVOl8TazoW+8zcbb3FUpF/VDNnmzI2yN"
    "n7nL8o2YMSkRZ7uaca7G28z3NiNJgyc6nIlkxX6Cu9bvjK+usq7nNp0p5fBrnCg/EJDtPP"
    "kRh7U+Uzaa672SJu3yomkXNIeWnQa69yjkne1vBFy1czWO2m8L+BqC6nVML0Y7wMVwMBB6"
    "Ejh8ejYfd4yxhbM8EzVQ3DWRXpwwRBaQsSWhmpcgWywa1moE9NIuSUxEh2/bRfxBSZbpEb"
    "qdceBNiy1suDLU5xKoJ/meD/LWtvaaJOBF3glBlQN3apkvBEalYA4YNsI3aY7v0JZzeFIE"
    "3aTBHQH3JImtJRxVoZe+a/A9J8RGEGco0ShfAuaxYNzWOvaxf16teT4cDmIuz3k/Ea67vr"
    "s67wnsFfSCyOKxKF4McOYsENXnaNZhHmN9RtiDln3G/TuilphFF7ReA3uUs0G9BOpN8DR7"
    "Z69X8DQVICiSPY0WHT4xeVrP2EEyJk0oN/4k4ydi1VMD/UrGdUWKccdcGSZcPRGoWznOJV"
    "zVGyeKJsIFrAKqGzVSndAqFW7TAytGdbBG//noDjEaEfGnFMYX/ph7mVvQ41wiUhnuYJpw"
    "ZWx7y45ZhttpocilqkR3eQCUtRQUQPaATDAl9L1oWRL6INqWVBhDblXG1LIRcATQFPS+fB"
    "7ejIzL/o2+wr2icYtUdpAlDuqeIkaWoIv3MQ65w5pi9xeOunpiSCEtox897MxTqZV4Jivg"
    "fsZQkyB1kFkS5ta/73p3vct3wOX+hm/urq/71x/fAepgLHD/hi+FtfoOmASjb/hDtz+Q1F"
    "MoXgYz+U4ViaWcFQilnGVGUs6SgRTxts51Xk52lCrkqGHk9bgAuseZ6B6n0LVsjqjmNfj1"
    "dnidAW/IkvQerQkH/wO2xYpo0M3egXDnGTvii1iYHchpX2LzkRDFHEcf51dX3S9JEVwMhu"
    "fJXUoOcJ4QCLRtQ2kLndmYF02JMzbBlBLBFEqWGrQzqy198vX1lrtvN3oVl+3Dzmnn7Oik"
    "ExRaBi159ZVpKMcrYUxpVm5O8WrAUiM8n6WCNRLAoJRogt45yWOfoZJEzktjHlOQ7UKZsn"
    "ZOpqydzpRBztF8UcoKibDUD+SjdqEMfSbEskuLcJl9OMqy0d6xkbp7uyc7cZMhyIa6XhmC"
    "eOAR0s2kHudsqm93ufp2amFLlRmVF3OCtZHzLst5hw5LrJfyc1bv1EnI0dhw0aBvlKcpo8"
    "8vo1dYpcFtTm3Hq+ejS2qXaueDVLEmIRVNI2fno4KkdbF01JWFHZkRgtgEXgYXkCkgGKkk"
    "0hsgRlKdzBn/iSZc5pLkpUno0WKcgeVMZpF8RpOk81LbmECToPoarnyJgCV0vpsD9YZ1M1"
    "CbHgNojiNXG8zJS1RFhZc2ArLM+ShXngGwv3uaDmOp0hOesL/eU+hlB28iLDXMIW2lmHzu"
    "7mrldooIU20iOM8c+80sMsrOX4QctQG9srBZY4031nhjjedb4141YpZBHhYrrrPJaUi5zf"
    "OtyfqrqGUk7+FJVmhFtJKuOx4f11EEFrbs0M+nmSM9bimL/O9ijj9xq88xtBs78RnsRG5x"
    "u9Shw4ChhghvJVmdaYnvlhm+8ztF44JX5oJjol2QI/SYsSIDhhqc5M5LVvS+jGJ5ilQJYZ"
    "CrGAyvP/rkybrCJvPfZP6dhbmh1OOcjdR3Reqa7GHqoFkTrmjCFU24oki4wj3Ylx+zCA7/"
    "FQtchAcQ12cVP5ElEF9zFWb8vHQfmEEGXslfVJE5PjExgpSBpcVn6mdW3BuGBfHrdCKxoj"
    "ErviCsiUM8MQ7RRPQrgHc3VeSLrtsKFWSZ3XytMvXPaW9Zle4C9lUr0qqU44hwaK9Rji5N"
    "ceXIA/r19/3btq/D3gALAwimaAmYTbhQY+MVUKi8BowI9QW5e2SbqqIZ05pOEZV380u9xw"
    "CFFNmrlKaseoJveAktLk+SK50rtKz7o2jqmf2fT2POXI6g/pUzPVXZykHSb8/tHNp2pmbw"
    "eapRC7ugdo/apyeBSpAf8rTB7VV3MHiCxs2rXaij0n2G2oUn6ZLqNr+uY1p8QO51m17Ql7"
    "vZQUll2B7ZztzP2xTmVbla83aN/Yqz7oilueMBtnRclSKBKONaByI7aRnnqmHm8rBd5J4P"
    "QZWdG26n7vqYix2QlMI55KgjxpXfSruAvNSPGvn02wL35W78PT4scoRZUGXfpXKYOsRMic"
    "NL1TYEDPU7It4+LnJVjaDKLm04Tl1XI56TrsoAHDDUII+cLB3pFNmBJVlO8UgntQe7N1sJ"
    "CE3NSl7jbMZZt+UV7ZXTGbnb3qHqGkJjrnE0P9gEZqCa4EugOpWMe6jp8upHhnfngx74fN"
    "O76N/2vTuWAptQdcqm8Eafm153kKyBsC2Ehfm1KLNZxJjqtyN3imzInez9uJPajtUvvQr/"
    "WncLZzbMca764dw+LmK3CaoczZey3F7sh5335uD32rsgoz4dW4hxkbHBdVVp3ib6t3/RP0"
    "Styayli/25PW9yI38hzc6E/f4uMb+tZd2/I6r/tb1sRRZhqWH0YSsOnHypSiDskdcQ3a2c"
    "rRAzcq0xln2ba4Tl+W9zfRlDobJ7W19Umf38P9wtIkI="
)
