"""Emulated BaluHost routes: chunked (being written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api")
