"""Phone numbers: parsed and validated with `phonenumbers`, stored and compared as E.164."""

from __future__ import annotations

import phonenumbers

# Longer input is no phone number, however it is punctuated.
PHONE_MAX_INPUT_LENGTH = 32


class InvalidPhoneNumber(ValueError):
    """Not a number that can receive a call or message (or not a phone number at all)."""


def normalize_phone(value: str, *, default_region: str) -> str:
    """`value` in E.164 (`+8613800138000`); `default_region` for a number without `+`."""
    text = value.strip()
    if not text or len(text) > PHONE_MAX_INPUT_LENGTH or not text.isprintable():
        raise InvalidPhoneNumber("not a phone number")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(phone: str) -> str:
    """The number for a log line: country code and the last two digits (`+86*********00`)."""
    try:
        country = str(phonenumbers.parse(phone).country_code)
    except phonenumbers.NumberParseException:
        country = ""
    hidden = max(0, len(phone) - 1 - len(country) - 2)
    return f"+{country}{'*' * hidden}{phone[-2:]}"
