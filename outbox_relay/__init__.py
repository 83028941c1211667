"""The outbox relay: moves committed outbox rows to Kafka, in order, at least once."""
