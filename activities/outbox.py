"""The local outbox: where a channel without a configured provider delivers, for development and tests.

Each message is one folder named by its message id holding an `envelope.json` and the rendered files.
Writing the same message id twice overwrites it, so the outbox itself never shows a duplicate; the
sent-ledger is what proves a message was delivered only once.
"""

import json
from pathlib import Path
from typing import Any


class Outbox:
    def __init__(self, root: Path, channel: str) -> None:
        self.directory = root / channel

    def write(self, message_id: str, envelope: dict[str, Any], files: dict[str, str | bytes]) -> Path:
        folder = self.directory / message_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            target = folder / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        # The envelope last: its presence means the message is complete.
        (folder / "envelope.json").write_text(
            json.dumps(envelope, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
        )
        return folder

    def envelopes(self) -> list[dict[str, Any]]:
        if not self.directory.exists():
            return []
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.directory.glob("*/envelope.json"))]
