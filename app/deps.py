"""Annotated dependencies shared by web and api routes."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.config import Settings
from app.search import SearchIndex


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_index(request: Request) -> SearchIndex:
    """The search index opened by create_app (app.search.SearchIndex)."""
    return request.app.state.index


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
IndexDep = Annotated[SearchIndex, Depends(get_index)]
