"""Logs of the worker and the API: readable text on a terminal, one JSON object a line otherwise (for a
log shipper), with the case, activity and step where Temporal's loggers know them.

What is logged must stay free of personal data: steps, channels, statuses and opaque message ids, never a
recipient, a name or an amount; the messages of this project are written so."""

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio import activity, workflow

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Fields the activities add with `extra=`, copied when present.
_EXTRA_FIELDS = ("step", "channel", "status")


def case_key(workflow_id: str) -> str:
    return hashlib.sha256(workflow_id.encode()).hexdigest()[:16]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Temporal's adapters attach what they know of the running activity or workflow.
        context = getattr(record, "temporal_activity", None) or getattr(record, "temporal_workflow", None) or {}
        # The workflow id holds the invoice number: logs carry a digest of it instead, which a person
        # with the invoice number can recompute (`case_key`) and a log store learns nothing from.
        if "workflow_id" in context:
            line["case"] = case_key(str(context["workflow_id"]))
        for key in ("run_id", "workflow_run_id", "activity_type", "workflow_type", "attempt"):
            if key in context:
                line[key] = context[key]
        for key in _EXTRA_FIELDS:
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(stream: TextIO = sys.stderr, level: int = logging.INFO) -> logging.Handler:
    """Log to `stream` at `level`: text on a terminal, JSON lines otherwise. Returns the handler installed."""
    handler = logging.StreamHandler(stream)
    if stream.isatty():
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    else:
        handler.setFormatter(JsonFormatter())
        # The details go in fields of their own instead of the end of every message.
        activity.logger.activity_info_on_message = False
        workflow.logger.workflow_info_on_message = False
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return handler
