"""The rating's rules as plain Python: guide editions, scoring, indicator points,
eligibility, the answer codec, credit codes, review stages, ranks and messages.

Nothing here knows of a Flask app or a database session, so forms, services and tests
use the rules directly and the unit tests of them need no server.
"""
