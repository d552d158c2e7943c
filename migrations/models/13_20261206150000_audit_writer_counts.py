"""Migration 13_20261206150000_audit_writer_counts.

Written by hand: MySQL's audit day-count trigger no longer counts the audit writer's rows.
Migration 11's row trigger ran an upsert of the day's count row for every row inserted,
a third of the time a writer's batch of 250 rows took in MariaDB. The writer now adds its
batch's counts itself, one upsert per day in the batch's own transaction
(app/audit/bulk.py), in a session where `@studylog_audit_counted` is set; the trigger skips
the rows of such a session and still counts every other insert (the ORM's, SQL by hand), so
the counts stay exact whoever writes. PostgreSQL (a statement trigger, once per COPY) and
SQLite (in process) are unchanged. The models are unchanged: MODELS_STATE is migration 12's.
"""

from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True

_NOTHING = """
-- nothing changes on this database
SELECT 1;
"""

UPGRADE = {
    "sqlite": _NOTHING,
    "postgres": _NOTHING,
    "mysql": """
DROP TRIGGER IF EXISTS `audit_day_count_added`;
CREATE TRIGGER `audit_day_count_added` AFTER INSERT ON `audit_log` FOR EACH ROW
    IF @studylog_audit_counted IS NULL THEN
        INSERT INTO `audit_day_count` (`day`, `entries`) VALUES (DATE(NEW.`created_at`), 1)
        ON DUPLICATE KEY UPDATE `entries` = `entries` + 1;
    END IF;
""",
}

DOWNGRADE = {
    "sqlite": _NOTHING,
    "postgres": _NOTHING,
    "mysql": """
DROP TRIGGER IF EXISTS `audit_day_count_added`;
CREATE TRIGGER `audit_day_count_added` AFTER INSERT ON `audit_log` FOR EACH ROW
    INSERT INTO `audit_day_count` (`day`, `entries`) VALUES (DATE(NEW.`created_at`), 1)
    ON DUPLICATE KEY UPDATE `entries` = `entries` + 1;
""",
}


async def upgrade(db: BaseDBAsyncClient) -> str:
    return UPGRADE[db.schema_generator.DIALECT]


async def downgrade(db: BaseDBAsyncClient) -> str:
    return DOWNGRADE[db.schema_generator.DIALECT]


MODELS_STATE = (
    "eJztXW1T47YW/iuafCnMUGYJgaXbO3cmQLZLC2QvhHt7WzpZJVYSF0dKLXuzmd797/cc+S"
    "V+j504ELz+whBJR7KfI+u8Svq7MRUaM+Rh27Ym90xKXfDGO/J3g9Mpg3+Sqg9Ig85my0os"
    "sOjAUO0pNOzLQMuBtEw6tKBuRA3JoEhjcmjqM8sZqtHljBhirPND0pswolHoi0pGTDEnui"
    "QWlGGnwtStBRGcmOyzGFKk/lFVSkuYDCqMBRnS4YRJoluHOLQmhjC2zsdbHcXm+l8261ti"
    "zKCdCWP9/gcU61xjX5jEn783bMnMvq5hc+z3iWl9ajX+wHazp/5IZ4YWAt1pqsr71mKmyh"
    "4eri7fq5b4aoP+UBj2lC9bzxbw9Nxvbtu6dog0WDdmnJnUYlqAC9w2DJdpXpHzKlBgmTbz"
    "30FbFmhsRG0Dedn4x8jmQ4SHqJHwT+uf7qMFmvX7t91e/77T6/cbMdbjI0T45BYNBcdpo3"
    "MLEfz7q9PvEhBV2sABLj607/aOT/cVBEJaY1NVKrgaXxUhsNohVdxYojw0GWKCrIihfQk1"
    "lj5lyYiHKSPIay7poffPOhzwCpYsWH49HrgefFsAHKYp1bow2V3eZzCgd3XTue+1bz7icF"
    "Mp/zIUfu1eB2uaqnQRKd1z+CVgYXBWDb8T8p+r3geCP8lv3dtOlKt+u95vDXwm+GRFn4t5"
    "n2qBaeqVeqhByyXX2ZeZDr2twfUwZQW5/kq47GGSyebAOluQzWHKEtjszsqay+VzOSBY80"
    "rLAEmZInN3mbpCQqISMnpKFJAIVRza96AI6WP+C1sogK/gOSgfsgRAXd3xwe3mdUK6LF1+"
    "yiad+1pbcELBu8MbM0u9/UX7/qJ92WkohAd0+DSnptZPgdpkI2DLBNTIJ8ZlHPRzl/79L3"
    "fMUGppOt53Tl897KpCuCscRVME8AshG6+aNqfREsrpWL0Sjo0jJWGWYP9EMU03gEKczGcB"
    "tTkRMwrgE5eYKOIDx+jQCEVjQ5L7D+3vmyenPxI5Y9wiezDxUEoRyax9NFlGuiktAqVx62"
    "crI+SxfFxLEL+PYubOuT6+4lYBgwcnSmSyu1/rZpbONrXsMT7C9z80m8fHb5tvjk/PTlpv"
    "356cvTmDtup541VvM1b686ufrm57YWmMBdlmkJoJ/QmVkzgXLibUTOZBmCrCC3jJ7Zid22"
    "TGlH7pG4yPrQn8PG1l4Pzv9p0SqqetiOpz69Y0VdXXkKpSW5vp0NfWZm1t7iqX89oh63zZ"
    "AbLaztxl/gbUmBiL003NMFVtbWZbm4GgwYYGZyRY8TrBXWl3hmdXUdNzm8aUMvgTjCjPEZ"
    "BuPHkeh5U2Uzqaq62SOuzyomEXNqW6EQe68wX4nW5v+FSVMzWOm29y2BrQaj8kF4MV5KJ7"
    "fQ1yktjW6Gw6aPUHOk+zTFRHYdMErThQRGZUyrkwEz6CdLYkkJbDoJc2SUIsOnrTzGMPYr"
    "NUi9CpDAOv6XJm0EVf/S6AepTu+SBvbGutiQKe55uAVhlwx6b5DDAqBLNPsBa+UXV8h5ac"
    "o9M86EYV7gC4p1FsdTBUQS59TsD3XAiDUZ4iRIN0EZgHQLiteexh/7xS87zbvQ6ZPOdXEX"
    "fd7cPNeQewV9BDI90KefFCgEt7xszkGM0qzEOkzwi7X/Kacf/MTB1GSXJar4A9SFmjXgD1"
    "2nmavrJXy3kacxDkiZ4Gkw43DJ5W03cQ9UkL0+r/KQYbYtVRHf0sBlVFSlq2tuhrdLEhUP"
    "fYzyVdVBsnkw3BBCwDqjvVU8XRsjddqhyo7MquUw5O0h78yYZWGVjdO11VCa9CbtzkDxZ6"
    "tXmCXuXB2+WsJ+BPoW/3wuvzVcasknEu4AFfSsYEN3hIbKb7wpdiOpdHXO1wcGgIxRwdk1"
    "D5xDQyEuaPUDIX5hOUzU1Qsp1sn5FuMGID0Cbp/Pqxe9frX17dJe+cKKnfPBlDYs79fLqA"
    "8g7twnXSopYt600UL+zNd9kQQxq9ah1uT2Mhu3CE1Kd+RhcmNLWZVhDmxr8eOg+dy3fEoX"
    "7kdw+3t1e3P70jIMg54P7IL8EKekc0wdkjf9++usbWIwofgxb9pvL46M5yuOjOUj10Z1EH"
    "HXyt0yTrOd37uaSooEf/JAe6J6nonsTQ1Q2LmQmfwc/33dsUeJckUa+EPrTI/4ihy62pKo"
    "GVZ2DDg+hcHuKwL7H4IEQhh4SH895N+9coCy6uu+fRVQo7OI8whBpGX0mLJL0xy0sXJqyd"
    "dAWcdKaYJ6CdmsXrNV+dx7v7eqObyds8ar1tnR2ftvwEXr8kK283DuVgAcpUwszNSIr2SS"
    "qE57NkRgccY6YpEoIpGUkJHkEpAcKXxjwkIJu5IrDNjAhsMx6BpZbFprNCWkiApHogHzdz"
    "ZX6kQoxViQgXWYeDJGutHWuJuzevZCWuI0/pUFcr8hR2PVJzPa6HKeus7l3O6h7pXFfpa8"
    "XZHCGt+bzLfN6hTTirufycWWFVYnLQN5zX6RukqbdnZG/PUFjFwa1PAwjvyghOqV3ak+Gn"
    "ICQEpILpCenxKD8ZIl846kbnNkaEKNeImxlAxIgIzlQQ6YBAT6rSDfBiLAkP42JfdGlJMp"
    "9gFMkj1EQ8LrWNARICVL8vZz4ioIPMd2KgbrdOBGrd7SX1NvdynTlZgaog8+JKQJo6H6TK"
    "UgBe75qWhDGK9IglLJfZE3mdNwGSCsaQtrJJYeqsasVWigBRZTw4z+z7TU1eS49fLCkqA3"
    "ppbrNaG6+18Vobz9bG3SzXNIV8mQS7Sic3ly23uW86mn8V1IzwfKdohlZAKiVVh/3jSS18"
    "DRsrksdLGCPebyGN/FtRxzdc6jMU7VpPfAY90dIto9BmVp+ggghvJVidqonvlhq+8ytFbY"
    "KXZoJzkTghe+xLyoz0CSpwQkBWsKLzay8Up4ilEPqxiuvu7U9e82heYR35ryP/9kxbk+th"
    "yprru8L1hOhhbKtZ7a6o3RW1uyKPu8LZ2Jfts/A3/+VzXCw3IK6OKn4QcwKPuVhG/NxwH5"
    "lQSfbwph6M8cHAjJqSzHVroq7vcU6uhsb78UBiSX2WfPBc7YfY0A9Re/RLgHc3ReSLztsS"
    "BWSR1XylMPX2aW9ZlO4C9mUL0rKEY09Y1FghHJ02+YWj5bdffY+EYXgy7IDonFAyYnMiDW"
    "GBGBssiEJln0gB4otazpZtUyXNaPpoxEy88wHlniQmNZmxiEnKsgd45HOqW7iTXMlckLLO"
    "ZXvqnb1r+aQ9xR7UvzjSpsIWO4l/PfdTahipksGjKUcs7ILYPW6+PfVFAv7Ikgb3N+3r6w"
    "0kblbuQhWF7jPkLmwkS8pe/OzEO3OC59OsXOzsvHflEGjB6NM7zOazOa4MyAM2tPEUScz5"
    "Q/2dMDqcYN18og8dbd1X6Km7hB2QkSmm8TWu5AEe+SdlKGDm5CdY2cgng3q/9j45IYxPqt"
    "v9A8e24MLtQHWLWYwDNlK3j5qEjmBFPXzkbTXcdxIfURLOPsPYlrDxmWAthV8Gnam1dEGG"
    "E8rHDB6U4YKN3Y1hvnpHdaAJ44z2yPecNx7jztwDYs0FmTJzDExw12e1t0Xu409DSPe0D3"
    "wbsqeqJ4DhE1DKmYE10GwsmEy1jgKZlR4ksWTKcEDYDfjUNwntZoqlP8+LhHdCRN90dMf/"
    "CAqgF6T5tsFzloYYdKmf/pKgjtXuuLm/uxOx9ojvliH/vHqvd55gmu4bOG9wlf4byIDaeG"
    "tNcNOL0gUJqocLVP2S9sDENOByu3/kgT02pDdRaqTluNGFjWfKmUo/xeAiKqz4wq4zgMyg"
    "c3ekPNtz6g05r0lbrPME6/0k1fLJ1PtJanW0Vkdf40L82tXRtq3p1iVdpGZnhBtkKqQUm6"
    "JPoUheBup1ipAwDlAzX2N86F2gZnhAVGdMI4MFIKuPxyowxB2iviHGZG+qj011wjQ5OkpI"
    "0yh/iEf+yLFXvzHVNFeZ1TlMZOxLZX6AwmvRJxh+TheetqtYr6kH0LkTnQK9lk3h4b6Tjx"
    "xmCvRLuaTqmM0DJyjGnGfE0BbD++7cY5Ix+YTb0wH8iy5lN2yGw84n0Odn/3zlR67SUZwW"
    "30ly0f343wNoSLp3N+4zw08ys80xg+oBtYYT91H3HeVbVblF0vEH4+Pia/qJLUqTVy5t7p"
    "xSCu+Jp5FCj2mROXQZbxqYK+j62pLXaxfi25k+r4ybFZ3vopiuFyCqjNrx7cTf1Lp+Lcap"
    "az7W5VjuDbfZdvcPJm/5Q6dC5p5AU9jOt5xc7RwiDlNay2g0hacSKWPUDoKddBDUGzDWkR"
    "M7nnof33FhMoBUWonGXborKExVRW9QM88NANAq3RvUjN0CsFwF8+K8pKgixqXfgzqjSUHI"
    "jCtmaWIMsjRwX+6O2ZOjPIcbQ6v0WxaOYscb+5pA7mXCI6je4dHNkzyXWECr9E3PJ7GLLO"
    "A9zQQrLB1gn6ACO0yjm8pbeVZgbJaxrbwVW4Mj6mqhNNQwaZUSF9bPRw04EGzHudOfJtjA"
    "7w1BU2CN0EVgHSHhKwQ2y5fQfTi/7pCPd52Lq/sr9/oVXylUlSqg6l/2cddpX0e3Rxs646"
    "B/zYqsFiGi6i3JrTwrcit9QW7F1mNlG4Ppn3RBXzrMYarq4dw8yaO4QasM0RdT3QJuiLwR"
    "pgDJBgGmHYN6/fhS2KqTM0yb7q9xlU2ctvZMvj7PJDP14aSR5Jd0ag4yvZLLNtt0SdY7cp"
    "9zR+5nZnr3queVZAGSCvoftmLC4UdVAGG3eQXR3Uo+FYxoJWpj6Tc9Bkie/6bHl1EUSrvT"
    "8UWF2df/A4LlDtg="
)
