"""Accounts: registration, signing in, password reset, enterprise claims, sessions and API tokens."""
