"""What the use cases stand on: audit chain, outbox and mail, storage and uploads, fonts, doctor."""
