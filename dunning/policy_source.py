"""The policy new cases start with: the operator's file (DUNNING_POLICY_FILE) or the packaged default.

Read when a process starts; a case copies it into its start input, so a later edit of the file
reaches only cases started after the next restart, and running ones only through `policy_changed`.
"""

import os
from pathlib import Path

from domain.policy import Policy
from domain.policy_file import DEFAULT, load_policy, packaged

POLICY_FILE_VARIABLE = "DUNNING_POLICY_FILE"


def configured_policy() -> Policy:
    path = os.environ.get(POLICY_FILE_VARIABLE)
    return load_policy(Path(path)) if path else packaged(DEFAULT)
