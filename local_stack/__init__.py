"""The local stack: Kafka, Cassandra and a standalone Flink cluster on 127.0.0.1.

Everything lives under one cache directory (``.stack/`` in the repository unless
``LIVE_COUNTERS_STACK_DIR`` says otherwise): the jars fetched from Maven Central by
``scripts/setup``, each service's data, logs and PID file. Processes are tracked by PID
files and stopped by PID, never by name, so other Java processes on the machine are safe.
"""
