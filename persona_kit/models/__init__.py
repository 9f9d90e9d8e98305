"""Models on top of the features: interests (time-decayed category affinity); churn, CLV and lookalike to come."""

from persona_kit.models.interests import (
    DEFAULT_TYPE_WEIGHTS,
    interest_scores,
    interest_tags,
    interest_wide,
    interests,
)

__all__ = ["DEFAULT_TYPE_WEIGHTS", "interest_scores", "interest_tags", "interest_wide", "interests"]
