"""The evaluation stage: BatchNorm re-estimation, scoring, search strategies and the ranking file."""
