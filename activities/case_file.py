"""The case file: the documents a case must be able to produce later, kept outside the history.

The letters as they were posted and the provider's proofs (deposit, receipt) are evidence in a
litigation: the history keeps only their path and SHA-256, the file keeps the bytes.
"""

import hashlib
import os
from pathlib import Path
from urllib.parse import quote


class CaseFile:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, workflow_id: str, name: str, content: bytes) -> tuple[str, str]:
        """Keep `content` as `name` in the case's folder; return its path (relative to the root) and
        SHA-256. Written to a temporary file and renamed, so a crash never leaves half a document."""
        folder = self.root / quote(workflow_id, safe="")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        partial = target.with_name(f".{name}.partial")
        partial.write_bytes(content)
        os.replace(partial, target)
        return str(target.relative_to(self.root)), hashlib.sha256(content).hexdigest()

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()
