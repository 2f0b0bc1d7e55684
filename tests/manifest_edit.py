"""Test helper: a manifest edited on purpose, sealed again with its own checksum, so a test
reaches the check behind it (a field's type, a shape) instead of the checksum."""

from __future__ import annotations

from typing import Any

from cooc.formats.manifest import MANIFEST_CHECKSUM, manifest_checksum


def resealed(manifest: dict[str, Any]) -> dict[str, Any]:
    return {**manifest, MANIFEST_CHECKSUM: manifest_checksum(manifest)}
