"""Emulated BaluHost routes: auth (being written)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api")
