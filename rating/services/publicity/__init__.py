"""Publicity: the public notice of proposed ratings and objections to it."""
