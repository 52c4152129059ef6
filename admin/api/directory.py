"""Directory over the API (being built)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/directory", tags=["directory"])
