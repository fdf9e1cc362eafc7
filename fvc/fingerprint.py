"""A short stable hash of JSON-serialisable values: what names a checkpoint's run, a study, a trial's folder.

Kept apart from the torch checkpoint code so that code which only needs the hash (a scikit-learn search)
does not import torch.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["fingerprint"]


def fingerprint(*parts: Any) -> str:
    """16 hex digits of SHA-256 over ``parts`` as JSON with sorted keys (``str`` for anything else)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
