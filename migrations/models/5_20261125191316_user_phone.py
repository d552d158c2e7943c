"""Migration 5_20261125191316_user_phone.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
ALTER TABLE "user" ADD "phone" VARCHAR(16);
CREATE UNIQUE INDEX "uid_user_phone_4e3ecc" ON "user" ("phone");
""",
    "postgres": """
ALTER TABLE "user" ADD "phone" VARCHAR(16) UNIQUE;
""",
    "mysql": """
ALTER TABLE `user` ADD `phone` VARCHAR(16) UNIQUE;
""",
}

DOWNGRADE = {
    "sqlite": """
DROP INDEX IF EXISTS "uid_user_phone_4e3ecc";
ALTER TABLE "user" DROP COLUMN "phone";
""",
    "postgres": """
DROP INDEX IF EXISTS "uid_user_phone_4e3ecc";
ALTER TABLE "user" DROP COLUMN "phone";
""",
    "mysql": """
ALTER TABLE `user` DROP INDEX `phone`;
ALTER TABLE `user` DROP COLUMN `phone`;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXe1z2jga/1c0fGpnupmEkJdrb26GJLRlNwm9hNx1tt3xCCzAGyOxklzK9Pq/nyS/27"
    "KxiUnA6y+ZID2PhH+PrOdV4kdrTkxks4Ouw2f3iDGL4NZb8KOF4RyJf3Tdb0ALLhZhp2zg"
    "cGQreigIDRahHDFO4ZiLvgm0GRJNJmJjai24O1VrgBGwydTCB2A4Q8CEYizIEKBkCSwGuG"
    "iTgxJq8RUgGFD0jYyh5H6nOhknFIkOewXGcDxDDFj8QE5tkrGY28LTrc7iYOsvBxmcTJGg"
    "o2KuL3+IZgub6Dti8uOXlsMQNSxTkstxH5FpQN76Q9ItHo2JhWwzBrpLqtoNvlqotoeH/t"
    "V7RSkfbWSMie3McUi9WIlvjwNyx7HMA8kj+6YIIwo5MiNSwI5te0Lzm9xHEQ2cOih4BjNs"
    "MNEEOraUZeufEwePJTxAzST/dP7lfbUImWHcDobGfW9oGK2U6OVXSMjJaxoTLJeNhblE8M"
    "dPd9wQENXakhNcfuzevTo+fa0gIIxPqepUcLV+KkYhapdVSSNEeUyRxESKIoX2lejh1hzp"
    "EY9zJpA3PdYD/59NJOA3hCII3x4fXB++LQAulik0B2Kxe7LPEcCwf9O7H3ZvPsnp5oz9ZS"
    "v8usOe7Gmr1lWi9ZUrLyI2BnfXCAYB/+0PPwL5Efw+uO0lpRrQDX9vye8kXlliYLI0oBlZ"
    "pn6rj5qgDKWOvi8sMdoGUo9z1lDqeyJlH5NcMUf22ZJijnNWIGZvVTZSrl7KEcVaVFtGWK"
    "pUmbsr1DUaUhohk0etgpRQpaF9Lwwha4p/QysFcF98D4jHSAOoZzs+eMPsJ6Rha/gqU7gM"
    "rLboghLPLp4YcfX0l937y+5Vr6UQHsHx4xJS08iAmqKJEMtMmJGPCLM06Bce//vf7pCtzN"
    "JsvO/csYZyqBrhrnAkbRLBL4ZsumvenidbIIZT9UhybjmTDjON/5PENNsBikmymAfUxYAs"
    "oAAfeMxAMb9xnQ4TQOlsMHD/sftL++T0HWALhDl4JRae1FKAIf5auiwTizIORGva+9nKDE"
    "U8H88TlO9HOXfnwpr2MS/h8MiFkljs3tv6NE9nm1b2VH6FX/7Rbh8fn7UPj0/PTzpnZyfn"
    "h+eCVn3fdNdZzk5/0f/Qvx3GtbFsyHeD1EowZpDN0lK4nEGql0GcKyEL8ZDbcTu3KYw5/G"
    "7YCE/5THw87eTg/J/unVKqp52E6XPr9bRV18+YqdJ4m9nQN95m423uqpSL+iGbvNkRtsbP"
    "3GX5RsyYlIizXc04V+Nt5nubkaTBEx3ORLJiP8Fd63fGV1dZ13ObzpRy+DVOlB8IyHae/I"
    "jDWp8pG831XkmTdnnRtAuaQ8su42oEDLXzMo7bhwXcDEGV6WeovrijIX0yYVYsIGNLQjVL"
    "OhtpDWs1mL+0gxFD/eiwXcS7k2SZuLudceBNiy1suDLU5xKoJ/meD/LWtnaOJOBFlrmgyo"
    "E7tcwXAqNSMAcMG+GbNK53aBc5Oi2CbtJ8joB7msTWEm6n0DLfNPheEGIjiDNUYpQvAfNI"
    "MG5rHfvYP68OvBgMrmMOzEU/EXy7fbi56AnsFfSCyOKxmFwMcOYsENVnXNZhHmN9RtiDln"
    "3G/RuilphFF4JeA3uUs0G9BOpNKDR7Z69XKDTl7hfJhUZLCJ+YCq1nJCAZYSaUG3+S0ROx"
    "6qmBfiWjuiLFuGOuDBOungjUvRznCq7qjRNFY+ECVgHVnRqpTmiVCp7pgRWjOlij/3x0Bx"
    "gNifhTCuNLf8y9zBTocS4Rdwx3ME3wMba9ZUcgw+20UBxS1ZW7PADKyggKIHtEJpgQ+k60"
    "LAl9FG1LKowht8ZiYtkIOAJoCnqfPw3uhsZV/05fr17RuEXqNMgSB1VMESNL0MX7GIfcYU"
    "3p+gvHUD0xpJCW0Y8eduapREk8LxVwP2OoSZA6yCwJc+vfD72H3tVb4HJ/xXcPt7f92w9v"
    "AXUwFrh/xVfCWn0LTILRV/y+27+W1BMoXgYz+U4ViaWcFwilnGdGUs6TgRTxts51Xk52lC"
    "rkqGHk9aQAuieZ6J6k0LVsjqjmNfj1fnCbAW/IkvQerTEH/wO2xYpo0M3egXDnGTnii1iY"
    "HchpX2LzkRDFHEcf51c33c9JEVxeDy6Su5Qc4CIhEGjbhtIWOrMxL5oSZ2yCKSWCKZQsNW"
    "hn1k765OurJ3ffbvTqJ9tHnbPO+fFpJyibDFryqiXTUI5WwpjSrNycUtSApUZ4Pks9aiSA"
    "QSnRBL1z8sE+QyWJnJfGPKYg24UyZe2cTFk7nSmDnKP5opQVEmGpH8jH7UJJ95ycewbCZf"
    "bhKMtGe8dG6u5wT3biJkOQDXW9MgTxwCOkm0k9ztnU0u5yLe3EwpYqMyov5gRrI+ddlvMO"
    "HX1YL+XnrN6pk5CjseGiQd8oT1MUn18Ur7BKg9ucwY7XwkeX1C5VwgepYk1CKppGzs5HBU"
    "nrYumoGws7MiMEsQm8DC4gE0AwUkmkN0CMpDqZM/oTjbnMJckrkNB3i3EGljOZRfIZTZLO"
    "S21jAk2C6ku48iUCltD5bg7UG9bNQG1a1N8cLq42mJOXqIoKL20EZJnzUa48A2B/9zQdxl"
    "KlJzxhf72n0MsO3kRYaphD2kox+dzd1crtFBGm2kRwnjn2m1lklJ2/CDlqA3plYbPGGm+s"
    "8cYaz7fGvWrELIM8LFZcZ5PTkHKbp1WT9VdRy0jeqpOs0IpoJV13PD6uowgsbNmhn08zR3"
    "rcUhb538Ucf+JWn2NoN3biM9iJ3OJ2qUOHAUMNEd5KsjrTEt8tM3znd4rGBa/MBcdEuyCH"
    "6HvGigwYanCSOy9Z0fs8jOUpUiWEQa7ienD7wSdP1hU2mf8m8+8szA2lHudspL4rUtdkD1"
    "MHzZpwRROuaMIVRcIV7sG+/JhFcPivWOAiPIC4Pqv4kSyB+JqrMOPnpfvADDLwSv4+iszx"
    "iYkRpAwsLT5TP5ri3hcsiF+nE4kVjVnxdV9NHOKJcYgmol8BvLupIl903VaoIMvs5muVqX"
    "9Oe8uqdBewr1qRVqUch4RDe41ydGmKK0ce0K+/vd+2fR32BlgYQDBBS8BswoUaG62AQuU1"
    "YESoL8jdI9tUFc2Y1mSCqLxpX+o9BiikyF6lNGXVE3zFS2hxeZJc6VyhZd2fOFPP7P8YGn"
    "PmcgT1r5zpqcpWDpJ+e+7n0LYzNYPPU41a2AW1e9w+Ow1UgvyQpw3ub7rX10/QuHm1C3VU"
    "us9Qu/AkXVLd5td1TItfk6lu0wv6cjc7KKkM2yPbmdt2m8K8Kldr3q6xX3HWHbE0dzzAlo"
    "6rUiQQZVzrQGQnLeNcNcxcHrWL3PMhqLJzw+3UXR9zsQOSUjiHHHXEuPJbaReQl/qJIp9+"
    "W+C+3I2/J0dFjjALquy7VI5Sh5gpcXip2oaAoX5HxNsnRa6qEVTZpQ0nqetqxHPSVRmAA4"
    "Ya5JGTpSOdIjuwJMspHumk9mD3ZisBoalZyWuczTjrtryivXI6I3fbO1RdQ2jMNY7me5vA"
    "DFQTfAlUJ5JxDzVdXv3I4OHiugc+3fUu+/d9746lwCZUnbIpvNHnrte9TtZA2BbCwvxalN"
    "ksYkz125E7RTbkTvZ+3Eltx+p3W4V/rbuFMxvmOFf9cG6fFLHbBFWO5ktZbi/2M817c/B7"
    "7V2QUZ+OLcS4yNjguqo0bxP927/oH6LWeNbSxf7cnje5kb+QZmfCfn+XmN/Wsu7fENX/dl"
    "62Iouw1DD6sBUHTr5UJRD2yGuI7lbOVogZudYYy77NNcLy/Le5voyhUNm9rS+qzH7+HwD8"
    "E5Y="
)
