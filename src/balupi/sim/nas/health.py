"""Emulated BaluHost routes: health (being written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api")
