"""The states of instances and jobs, and offer stock levels: plain enums, cheap to import."""

from __future__ import annotations

import enum


class InstanceState(enum.StrEnum):
    """Where an instance is in its life, the same words for every platform."""

    PROVISIONING = "provisioning"
    STARTING = "starting"
    RUNNING = "running"
    FROZEN = "frozen"
    """Paused with its memory kept (Vast): not reachable, but the GPU is still billed."""
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    ERROR = "error"
    UNKNOWN = "unknown"

    @property
    def is_billing_compute(self) -> bool:
        """Whether the GPU is (or is about to be) billed at the full rate."""
        return self in {
            InstanceState.PROVISIONING,
            InstanceState.STARTING,
            InstanceState.RUNNING,
            InstanceState.FROZEN,
            InstanceState.STOPPING,
        }

    @property
    def is_gone(self) -> bool:
        """Whether the instance no longer exists at the provider."""
        return self is InstanceState.TERMINATED


class JobState(enum.StrEnum):
    """Where a job run on an instance is."""

    PENDING = "pending"
    SYNCING = "syncing"
    RUNNING = "running"
    PULLING = "pulling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    LOST = "lost"

    @property
    def is_final(self) -> bool:
        """Whether the job has ended and will not change again."""
        return self in {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED, JobState.LOST}


class Stock(enum.StrEnum):
    """How much of an offer is left, as the provider tells it."""

    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"
    NONE = "None"
