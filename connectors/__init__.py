"""Connectors to the outside systems, one module each: Kafka source and producer library,
Avro codec, Cassandra sink and CQL schema."""
