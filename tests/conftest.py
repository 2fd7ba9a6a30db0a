"""Test session settings: the parse cache lives in a fresh folder, never in the user's home."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("STACKRULES_CACHE_DIR", tempfile.mkdtemp(prefix="stackrules-test-cache-"))
