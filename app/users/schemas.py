"""What clients send and receive for accounts. A password hash never leaves the service."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi_users import schemas
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.http.types import RequestBody
from app.platform.phone import PHONE_MAX_INPUT_LENGTH
from app.users.adapter import normalize_email

PASSWORD_MAX_LENGTH = 1024
# A signed reset or verify token is a few hundred characters; refresh tokens are 43.
TOKEN_MAX_LENGTH = 2048


class UserRead(schemas.BaseUser[uuid.UUID]):
    display_name: str
    phone: str | None = Field(description="E.164 (`+8613800138000`), or null.")
    created_at: datetime


class _Strict(schemas.CreateUpdateDictModel, RequestBody):
    """fastapi-users' create/update dict methods on a body that refuses unknown keys."""


class UserCreate(_Strict):
    """Registration: only what a new user may choose. The flags (`is_active`,
    `is_superuser`, `is_verified`) are the server's; sending one is a 422."""

    email: EmailStr
    password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    display_name: str = Field(default="", max_length=100)

    @field_validator("email")
    @classmethod
    def _normalize_email(cls, value: str) -> str:
        return normalize_email(value)


class SuperuserCreate(UserCreate):
    """What the admin CLI creates (never an API body): an account with its flags."""

    is_active: bool = True
    is_superuser: bool = False
    is_verified: bool = False


class _UserChange(_Strict):
    email: EmailStr | None = None
    password: str | None = Field(default=None, max_length=PASSWORD_MAX_LENGTH)
    display_name: str | None = Field(default=None, max_length=100)

    @field_validator("email")
    @classmethod
    def _normalize_email(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    # An explicit null means "leave it": no column here may be set to NULL.
    def create_update_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().create_update_dict().items() if v is not None}

    def create_update_dict_superuser(self) -> dict[str, Any]:
        return {k: v for k, v in super().create_update_dict_superuser().items() if v is not None}


class UserUpdate(_UserChange):
    """A superuser's change to any account, flags included."""

    is_active: bool | None = None
    is_superuser: bool | None = None
    is_verified: bool | None = None


class UserUpdateMe(_UserChange):
    """What a user may change of its own account; `current_password` is needed for a new
    email or password (it proves the request is the user's, not a stolen token's). The
    flags are not among them: sending one is a 422."""

    current_password: str | None = Field(default=None, max_length=PASSWORD_MAX_LENGTH)

    def create_update_dict(self) -> dict[str, Any]:
        values = super().create_update_dict()
        values.pop("current_password", None)
        return values


class PasswordLoginForm(BaseModel):
    """The password login form (`application/x-www-form-urlencoded`): OAuth2's password
    grant, `username` being the email. A field of any other name is a 422."""

    model_config = ConfigDict(extra="forbid")

    grant_type: str | None = Field(default=None, pattern="^password$")
    username: str = Field(description="The account's email.")
    password: str
    scope: str = ""
    client_id: str | None = None
    client_secret: str | None = None


class UserCount(BaseModel):
    count: int


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (the OAuth2 token type)
    refresh_token: str


class RefreshRequest(RequestBody):
    refresh_token: str = Field(min_length=1, max_length=TOKEN_MAX_LENGTH)


class DeregisterRequest(RequestBody):
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)


class EmailRequest(RequestBody):
    email: EmailStr


class ResetPasswordRequest(RequestBody):
    token: str = Field(min_length=1, max_length=TOKEN_MAX_LENGTH)
    password: str = Field(max_length=PASSWORD_MAX_LENGTH)


class VerifyRequest(RequestBody):
    token: str = Field(min_length=1, max_length=TOKEN_MAX_LENGTH)


# A phone number as written by a person (`+86 138 0013 8000`, or national digits read in
# SMS_DEFAULT_REGION); the route parses it, and answers 422 for one that is no number.
PhoneInput = Annotated[str, Field(min_length=1, max_length=PHONE_MAX_INPUT_LENGTH)]
SmsCode = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The 6 digits of the SMS.")]


class SmsCodeRequest(RequestBody):
    phone: PhoneInput
    purpose: Literal["login", "bind"]


class SmsCodeSent(BaseModel):
    resend_after_seconds: int


class SmsLoginRequest(RequestBody):
    phone: PhoneInput
    code: SmsCode


class PhoneBindRequest(RequestBody):
    phone: PhoneInput
    code: SmsCode
    # A phone logs in: binding one takes the password, like a new email or password.
    current_password: str | None = Field(default=None, max_length=PASSWORD_MAX_LENGTH)


class PhoneRemoveRequest(RequestBody):
    current_password: str | None = Field(default=None, max_length=PASSWORD_MAX_LENGTH)
