"""The counting job: like and gift events from Kafka to exact Cassandra counters."""
