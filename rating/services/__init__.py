"""Use cases by area (accounts, filing, review, publicity, ratings, reporting); each function one use case."""
