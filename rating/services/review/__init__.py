"""Review: scoring runs, routing to reviewers, reviews and decisions, experts, quotas, the blacklist."""
