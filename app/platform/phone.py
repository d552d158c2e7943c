"""Phone numbers: parsed and validated with `phonenumbers`, stored and compared as E.164."""

from __future__ import annotations

from collections.abc import Collection

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


# Number types an SMS code may go to: mobiles, and the numbers a numbering plan cannot tell
# from mobiles (the US and Canada). Never premium-rate, toll-free, shared-cost, VoIP,
# pagers or landlines.
SMS_NUMBER_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def sms_refusal(phone: str, *, allowed_regions: Collection[str]) -> str | None:
    """Why no SMS code may go to `phone` (E.164), or None when one may: it must be a mobile
    number (by `phonenumbers`' number type) of one of `allowed_regions`."""
    number = phonenumbers.parse(phone)
    region = phonenumbers.region_code_for_number(number)
    if region not in allowed_regions:
        return f"SMS codes go only to numbers of {', '.join(sorted(allowed_regions))}"
    if phonenumbers.number_type(number) not in SMS_NUMBER_TYPES:
        return "SMS codes go only to mobile numbers"
    return None


def masked(phone: str) -> str:
    """The number for a log line: country code and the last two digits (`+86*********00`)."""
    try:
        country = str(phonenumbers.parse(phone).country_code)
    except phonenumbers.NumberParseException:
        country = ""
    hidden = max(0, len(phone) - 1 - len(country) - 2)
    return f"+{country}{'*' * hidden}{phone[-2:]}"
