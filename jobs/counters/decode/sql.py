"""The decode stage's tables: the Kafka source of both event topics, the decoded view (the JVM
decoder ``livecounters.DecodeEvents`` applied to every record), the valid events, and the
transactional dead-letter topic."""

from __future__ import annotations

from pyflink.java_gateway import get_gateway
from pyflink.table import Schema, StreamTableEnvironment

from jobs.counters.decode.spec import decoder_config
from jobs.counters.settings import Settings


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _client_options(s: Settings) -> str:
    """The Kafka client properties of ``--kafka-config`` (TLS, SASL) as connector options."""
    return "".join(f",\n  {_sql_str('properties.' + k)} = {_sql_str(v)}"
                   for k, v in sorted(s.kafka.flink().items()))


def source_ddl(s: Settings, bounded: bool = False) -> str:
    """The Kafka source of both event topics. ``bounded``: it ends at the latest offsets of
    its start (the benchmark's stage ceilings run the job's own SQL on a backlog); the
    counting job's source never ends."""
    end = ",\n  'scan.bounded.mode' = 'latest-offset'" if bounded else ""
    return f"""
CREATE TEMPORARY TABLE raw_events (
  `key` BYTES,
  `value` BYTES,
  `topic` STRING METADATA VIRTUAL,
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  `kts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  `ts_type` STRING METADATA FROM 'timestamp-type' VIRTUAL
) WITH (
  'connector' = 'kafka',
  'topic' = {_sql_str(s.likes_topic + ';' + s.gifts_topic)},
  'properties.bootstrap.servers' = {_sql_str(s.bootstrap)},
  'properties.group.id' = {_sql_str(s.group_id)},
  'properties.auto.offset.reset' = {_sql_str(s.startup)},
  'scan.startup.mode' = 'group-offsets',
  'key.format' = 'raw',
  'key.fields' = 'key',
  'value.format' = 'raw',
  'value.fields-include' = 'EXCEPT_KEY'{end}{_client_options(s)}
)"""


def dead_letters_ddl(s: Settings) -> str:
    """Transactional: a dead letter is published once per checkpoint, also after restarts."""
    return f"""
CREATE TEMPORARY TABLE dead_letters (
  `letter` STRING
) WITH (
  'connector' = 'kafka',
  'topic' = {_sql_str(s.dlq_topic)},
  'properties.bootstrap.servers' = {_sql_str(s.bootstrap)},
  'properties.transaction.timeout.ms' = '600000',
  'format' = 'raw',
  'sink.delivery-guarantee' = 'exactly-once',
  'sink.transactional-id-prefix' = {_sql_str(s.group_id + '-dlq')}{_client_options(s)}
)"""


DECODED_SQL = """
SELECT d.* FROM raw_events, LATERAL TABLE(
  decode_events(`value`, `topic`, `kts`, `ts_type`, `key`, `partition`, `offset`)) AS d"""

EVENTS_SQL = """
SELECT kind, id_hi, id_lo, room_id, gift_id, likes, gift_count, gift_value, ts, late, proctime
FROM decoded WHERE letter IS NULL"""


def register_decoder(t_env: StreamTableEnvironment, s: Settings) -> str:
    """Registers the table function ``decode_events``, the job's Java decoder
    (``livecounters.DecodeEvents``, shipped as ``jobs.runtime.job_jar``), configured from the
    topics, the event contract and schemas/ (``spec.decoder_config``); returns the SQL that
    applies it to ``raw_events``."""
    config = decoder_config(s.likes_topic, s.gifts_topic, s.watermark_delay_ms)
    t_env._j_tenv.createTemporaryFunction(
        "decode_events", get_gateway().jvm.livecounters.DecodeEvents(config))
    return DECODED_SQL


def decoded_table(t_env: StreamTableEnvironment, s: Settings, bounded: bool = False,
                  decoder=register_decoder) -> None:
    """The view ``decoded``: every Kafka record, decoded (a dead letter or an event), with a
    processing-time column. It passes through a DataStream once so that the events and the
    dead letters read one decode step (each query on a SQL view is planned apart).
    ``bounded``: see ``source_ddl``; ``decoder``: registers ``decode_events`` and returns the
    SQL applying it (the benchmark measures Python decoders with it)."""
    t_env.execute_sql(source_ddl(s, bounded))
    decoded = t_env.to_data_stream(t_env.sql_query(decoder(t_env, s)))
    t_env.create_temporary_view("decoded", t_env.from_data_stream(
        decoded, Schema.new_builder().column_by_expression("proctime", "PROCTIME()").build()))
