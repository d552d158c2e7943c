"""Typed access to what the lifespan puts on `app.state`."""

from typing import Annotated

from fastapi import Depends, Request

from app.core.store import KeyValueStore
from settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> KeyValueStore:
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[KeyValueStore, Depends(get_store)]
