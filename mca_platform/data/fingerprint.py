"""The content fingerprint of a prepared dataset: a hash of every data file and the manifest's content."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

BLOCK = 8 << 20


def fingerprint_directory(root: Path, manifest: dict) -> str:
    """blake2b over the manifest (minus its fingerprint) and every file under `root`, in path order."""
    digest = hashlib.blake2b(digest_size=16)
    content = {k: v for k, v in manifest.items() if k != "fingerprint"}
    digest.update(json.dumps(content, sort_keys=True).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "manifest.json"):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as handle:
            while block := handle.read(BLOCK):
                digest.update(block)
    return digest.hexdigest()
