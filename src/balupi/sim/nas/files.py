"""Emulated BaluHost routes: files (being written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api")
