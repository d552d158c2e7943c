"""How an SMS send failed, shared by every sender (app/notify/sms.py and
app/notify/aliyun_sms.py): whether another try may succeed, and text without the code."""

from __future__ import annotations

# Provider answers where a later try can succeed; every other code is given up at once.
# Flow control (per number per minute or hour) and the provider's own trouble pass; an
# illegal number, a bad sign name or template, no balance, a blacklisted number or the
# daily cap for a number do not.
RETRYABLE_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
    }
)


class SmsError(Exception):
    """Sending failed. `code` is the provider's error code, or the kind of network failure."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class SmsRetryable(SmsError):
    """Another try later may succeed."""


class SmsUnanswered(SmsRetryable):
    """No answer after the request went out (a read timeout, a connection dropped): the
    provider may have taken it and sent the message. Retried at most once."""


class SmsRefused(SmsError):
    """The provider will not send this, however often asked."""


def retryable(code: str, status_code: int | None = None) -> bool:
    """Whether a provider error code (and HTTP status) is worth another try."""
    if code in RETRYABLE_CODES or code.startswith("Throttling"):
        return True
    return status_code is not None and status_code >= 500


def scrubbed(text: str, code: str) -> str:
    """`text` without the code in it."""
    return text.replace(code, "******") if code else text
