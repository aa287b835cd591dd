"""The decode step as the job runs it: a vectorized (pandas) Python function in the SQL plan,
a batch of Kafka records at a time. The decoding itself is ``decode.py`` (pure)."""

from __future__ import annotations

import time

from pyflink.common import Types
from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from jobs.counters.pyflink_hooks import exit_with_taskmanager

EVENT_FIELDS = ["kind", "event_id", "room_id", "gift_id", "likes", "gift_count", "gift_value",
                "ts", "late"]
EVENT_TYPE = Types.ROW_NAMED(EVENT_FIELDS, [
    Types.STRING(), Types.STRING(), Types.LONG(), Types.INT(), Types.LONG(), Types.LONG(),
    Types.LONG(), Types.LONG(), Types.INT()])
# the decode step's result per Kafka record (decode.DECODED_FIELDS): a dead letter, or an event
DECODED_TYPE = DataTypes.ROW([
    DataTypes.FIELD("letter", DataTypes.STRING()),
    DataTypes.FIELD("kind", DataTypes.STRING()),
    DataTypes.FIELD("event_id", DataTypes.STRING()),
    DataTypes.FIELD("room_id", DataTypes.BIGINT()),
    DataTypes.FIELD("gift_id", DataTypes.INT()),
    DataTypes.FIELD("likes", DataTypes.BIGINT()),
    DataTypes.FIELD("gift_count", DataTypes.BIGINT()),
    DataTypes.FIELD("gift_value", DataTypes.BIGINT()),
    DataTypes.FIELD("ts", DataTypes.BIGINT()),
    DataTypes.FIELD("late", DataTypes.INT())])


class DecodeEvents(ScalarFunction):
    """The decode step: a vectorized (pandas) Python function in the job's SQL plan. Flink
    hands it a batch of Kafka records as Arrow columns; each becomes an event or a dead letter
    with its reason (``decode.Decoder``). Never raises for bad input: whatever a producer
    sends, the job keeps running. The event's ``late`` is 1 when it is
    ``watermark_delay_ms`` behind the newest valid event this subtask has read
    (``logic.Lateness``; the ``late_events`` metric)."""

    def __init__(self, likes_topic: str, gifts_topic: str, watermark_delay_ms: int) -> None:
        self.topics = (likes_topic, gifts_topic)
        self.watermark_delay_ms = watermark_delay_ms

    def open(self, function_context: FunctionContext) -> None:
        from jobs.counters.decode import Decoder

        exit_with_taskmanager()
        self.decoder = Decoder(*self.topics, self.watermark_delay_ms)
        metrics = function_context.get_metric_group()
        self.events_in = metrics.counter("events_in")
        self.dlq_records = metrics.counter("dlq_records")

    def eval(self, value, topic, kts, ts_type, key, partition, offset):
        import pandas as pd

        from jobs.counters.decode import epoch_ms

        out = self.decoder.decode(
            value.tolist(), topic.tolist(), epoch_ms(kts),
            (ts_type == "LogAppendTime").tolist(), key.tolist(),
            [int(p) for p in partition], [int(o) for o in offset], int(time.time() * 1000))
        self.events_in.inc(len(value))
        # also when 0: PyFlink registers a counter with Flink at its first update, and a
        # series that does not exist yet is no 0 to rate() and alert rules
        self.dlq_records.inc(out.invalid)
        return pd.DataFrame(out.columns())


def decode_events(likes_topic: str, gifts_topic: str, watermark_delay_ms: int):
    """The registered function: ``decode_events(value, topic, kts, ts_type, key, partition,
    offset)`` -> a DECODED_TYPE row."""
    return udf(DecodeEvents(likes_topic, gifts_topic, watermark_delay_ms),
               result_type=DECODED_TYPE, func_type="pandas")


