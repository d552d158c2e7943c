"""Migration 5_20261125192119_email_exact_collation.

Written by `python run.py db migrate`: the same change for each SQL dialect, so one history
serves SQLite, PostgreSQL and MySQL. Edit by hand only with the reason written here.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

UPGRADE = {
    "sqlite": """
-- nothing changes on this database
SELECT 1;
""",
    "postgres": """
ALTER TABLE "user" ALTER COLUMN "email" TYPE VARCHAR(320) USING "email"::VARCHAR(320);
""",
    "mysql": """
ALTER TABLE `user` MODIFY COLUMN `email` VARCHAR(320) COLLATE utf8mb4_bin NOT NULL;
""",
}

DOWNGRADE = {
    "sqlite": """
-- nothing changes on this database
SELECT 1;
""",
    "postgres": """
ALTER TABLE "user" ALTER COLUMN "email" TYPE VARCHAR(320) USING "email"::VARCHAR(320);
""",
    "mysql": """
ALTER TABLE `user` MODIFY COLUMN `email` VARCHAR(320) NOT NULL;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXe1z2jga/1c0fGpmupmEkJdrb26GJLRll4ReQu462+54BBbgjZFYSS5hev3fT5Lfbd"
    "nYBBLw+ksmSM8j2b9H1vNq+UdjRkxks8O2w6f3iDGL4MY78KOB4QyJf3Tdb0EDzudhp2zg"
    "cGgreigIDRahHDJO4YiLvjG0GRJNJmIjas25O1WjjxGwycTCh2AwRcCEYizIEKBkASwGuG"
    "iTgxJq8SUgGFD0nYyg5H6vOhknFIkOewlGcDRFDFj8UE5tkpGY28KTrc7iYOsvBxmcTJCg"
    "o2Kur3+IZgub6Akx+fNrw2GIGpYpyeW4j8g0IG/8Ienmj8bYQrYZA90lVe0GX85V28ND9/"
    "qDopS3NjRGxHZmOKSeL8XV44DccSzzUPLIvgnCiEKOzIgUsGPbntD8JvdWRAOnDgruwQwb"
    "TDSGji1l2fjn2MEjCQ9QM8k/rX95lxYhM4zb/sC47wwMo5ESvbyEhJy8phHBctlYmEsEf/"
    "x0xw0BUa0NOcHVp/bdm5OzAwUBYXxCVaeCq/FTMQpRu6xKGiHKI4okJlIUKbSvRQ+3ZkiP"
    "eJwzgbzpsR76/6wjAb8hFEH49Pjg+vBtAXCxTKHZF4vdk32OAAbdm879oH3zWU43Y+wvW+"
    "HXHnRkT1O1LhOtb1x5EbExuLtGMAj4b3fwCcif4Pf+bScp1YBu8HtDXpN4ZImBycKAZmSZ"
    "+q0+aoIylDp6mltitDWkHuesoNT3RMo+JrlijuyzJcUc59yAmL1VWUt581KOKNai2jLCsk"
    "mVubtCXaEhpREyftQqSAlVGtoPwhCyJvg3tFQAd8V1QDxCGkA92/HBG2Y/IQ1bw0eZwkVg"
    "tUUXlLh3cceIq7u/at9fta87DYXwEI4eF5CaRgbUFI2FWKbCjHxEmKVBv/T4P/x2h2xllm"
    "bjfeeONZBDVQh3hSNpkgh+MWTTXbPmLNkCMZyoW5Jzy5l0mGn8nySm2Q5QTJLFPKA2BmQO"
    "BfjAYwaK+a3rdJgASmeDgftP7V+ap2fvAZsjzMEbsfCklgIM8QPpsowtyjgQrWnvZyszFP"
    "F8PE9QPh/l3J1La9LFvITDIxdKYrF7T+vzPJ1tWtkTeQm//KPZPDk5bx6dnF2cts7PTy+O"
    "LgStut5013nOTn/Z/di9HcS1sWzId4PUSjCmkE3TUriaQqqXQZwrIQtxk9txO7cpjBl8Mm"
    "yEJ3wqfp61cnD+T/tOKdWzVsL0ufV6mqrrZ8xUqb3NbOhrb7P2NndVykX9kHWe7Ahb7Wfu"
    "snwjZkxKxNmuZpyr9jbzvc1I0uCZDmciWbGf4K70O+Orq6zruU1nSjn8GifKDwRkO09+xG"
    "Glz5SN5mqvpE67vGraBc2gZaeB7jwJeWf7GwFX5VyNk+ZRAV9DUB3E9GK0A1z1ez2hJ4HD"
    "xxezYcsYWjjLM1EDxV0T6cUJQ2QOGVsQqnkIssWiYd2MgF7bJYmJ6PioWcQflGSZHqHbGQ"
    "fetNjchktD/S6BepLv5SBvbGuvSQJe5JkQVDlwp5a5JZwpsXd+10B9SYiNIM7Y6KN8CaiH"
    "gnFbWPtb0svu7Jf9fi9mll92EyGl24eby45AX2EviCweizTFAGfOHFF9HmEV5jHWF4Q9aN"
    "ln3L8jaolZdIHVFbBHOWvUS6BeB/iyN/dqBfhSTmyRDF+0MO6ZCb5q+rfJuCmh3PiTDJ+J"
    "VUcN9CsZVhUpxh1zaZhw+Uyg7uU413BZbZwoGgk3ZRNQ3amRqoRWqZCQHlgxqoM1+s9Ht4"
    "/RgIg/pTC+8sfcy/i3HucS0bRwB9OE1GLbW3ZcLdxOC0XXVLW0ywOgzPdTANkjMsGY0Pei"
    "Rbj6j6JtQYUx5FYOjC0bAUcATUHny+f+3cC47t7pq7A3NG6R6gOywEFtTsTIEnTxPsYhd1"
    "hdkP3KkUFPDCmkZSCkg51ZKvwfz7YE3C8YDhGkDjJLwtz490PnoXP9Drjc3/Ddw+1t9/bj"
    "O0AdjAXu3/C1sFbfAZNg9A1/aHd7knoMxcNgJp+pIuGUiwLBlIvMUMpFMpAintaZzsvJDl"
    "iFHBWMDp4WQPc0E93TFLqWzRHVPAa/3vdvM+ANWZLeozXi4H/AtlgRDbreMxDuPENHXIiF"
    "2aGc9jU2HwlRzHH0cX5z0/6SFMFVr3+Z3KXkAJcJgUDbNpS20JmNedGUOGMdTCkRTKFkoU"
    "E7syLQJ19dE7j7dqNXFdg8bp23Lk7OWkExYNCSVwOYhnK4FMaUZuXmFFgGLBXC80WqLCMB"
    "DEqJJuidk+D0GdbSkLuGeUxBNgtlc5o52ZxmOpsDOUezeSkrJMJSPZBPmoWyyJkQyy4twm"
    "X24SjLWnvHWuruaE924jpDkA11tTIE8cAjpOtJPc5ZV4jucoXo2MKWKoUpL+YEay3nXZbz"
    "DhX0r5bySxa1VUnI0dhw0aBvlKcu9c4v9VZYpcGt3yyOV3hHl9Qu1XcHqWJNQiqaRs7ORw"
    "VJ62LpqBsLOzIjBLEJvAwuIGNAMFJJpLdAjKQ6mTP8E424zCXJg33Qk8U4A4upzCL5jCZJ"
    "56W2MYEmQfU1XPkSAUvofDcH6g3rZqDWLVWvX5ndbDAnL1EVFV7aCMgy56NceQbA/u5pOo"
    "ylSk94wv56T6GXHbyJsFQwh7SVgueZu6uV2ykiTJWJ4Lxw7DezyCg7fxFyVAb0jYXNamu8"
    "tsZrazzfGveqEbMM8rBYcZVNTkPKbb6Dmay/ilpG8qyYZIVWRCvpuuPxcR1FYGHLDv18mj"
    "nS45ayyP8u5vgzt/ocQ7u2E1/ATuQWt0u9fxgwVBDhrSSrMy3x3TLDd36nqF3wjbngmGgX"
    "5AA9ZazIgKECbxvnJSs6XwaxPEWqhDDIVfT6tx998mRdYZ35rzP/ztxcU+pxzlrquyJ1Tf"
    "Yw9aJZHa6owxV1uKJIuMJ9sS8/ZhG8/FcscBG+gLg6q/iJLIC4zGWY8fPSfWAKGXgjv/oh"
    "c3xiYgQpAwuLT9WnQNxTcAXxQTqRuKExN3yIVR2HeGYcoo7obwDe3VSRr7puN6ggy+zmK5"
    "Wp/572llXpLmC/aUW6KeU4IBzaK5SjS1NcOfKAfvWZ9Lbt67C3wMIAgjFaAGYTLtTYcAkU"
    "KgeAEaG+IHdf2aaqaMa0xmNE5fnxUu8xQCFF9jKlKTc9wTe8gBaXb5IrnSu0rPvhLnXP/i"
    "e+mDOTI6h/5UzPVbZykPTTcz+Dtp2pGXyezaiFXVC7J83zs0AlyB952uD+pt3rPUPj5tUu"
    "VFHpvkDtwrN0yeY2v7ZjWrxHJrpNL+jL3eygpDJsj2xnzpCtC/M2uVrzdo39irPuiKW54w"
    "G2dFyVIoEo41oHIjtpGeeqYObyuFnknA9BlZ0bbqbO+piJHZCUwjnkqCLGZ0UgTj4cEYTP"
    "kgDPIS/14R2fflvgvt5B2KfHRV5hFlTZZ6kcp15ipsThpWobAobqvSLePC1yVI2gyi5tOE"
    "0dVyPuky7LABwwVCCPnCwdaRXZgSVZTvFIK7UHuydbCQhNzUpe4WzGWbflFe2V0xk5f92h"
    "6hhCY6ZxND/YBGagmuBLoDqWjHuo6fLqR/oPl70O+HzXuered70zlgKbUHXKpvBEn7tOu5"
    "esgbAthIX5NS+zWcSYqrcjt4psyK3s/biV2o7V10iFf607hTMb5jhX9XBunhax2wRVjuZL"
    "WW6v9vHhvXnxe+VZkFGfjs3FuMhY47iqNG8d/du/6B+i1mja0MX+3J63uZG/kGZnwn5/l5"
    "jf1rLu3xHVfxEuW5FFWCoYfdiKAycfqhIIe+QVRHcr71aIGbnWGMs+zTXC8vKnub6OobCx"
    "c1tfVZn9/D8aubPR"
)
