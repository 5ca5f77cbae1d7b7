"""Filing: a firm's application, its edits, submission, history and submitted snapshots."""
