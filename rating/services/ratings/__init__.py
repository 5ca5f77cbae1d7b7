"""Ratings: granted ratings, their certificates (content, PDF, signature) and revocation."""
