"""API routes: system. Stub until its owner lands it."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
