"""The policy new cases start with, for the commands that start or move cases.

Read when a process starts; a case copies it into its start input, so a later edit of the file
reaches only cases started after the next restart, and running ones only through `policy_changed`.
"""

from domain.policy import Policy
from dunning.settings import PolicySettings


def configured_policy() -> Policy:
    """DUNNING_POLICY_FILE's policy, else the packaged default."""
    return PolicySettings().load()
