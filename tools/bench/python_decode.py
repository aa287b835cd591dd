"""The decode step in Python, as the benchmark measures it beside the job's JVM decoder: the
same specification (``jobs/counters/decode/spec.py``) run by PyFlink, either vectorized (a pandas
function over Arrow batches, in the Python worker's own process) or row at a time (a general
function, which ``python.execution-mode: thread`` runs inside the TaskManager's JVM).

Not part of the job: the job decodes with ``livecounters.DecodeEvents`` (docs/performance.md,
for why). ``register(variant)`` is a ``decoder`` for ``decode/sql.decoded_table``.
"""

from __future__ import annotations

import time

from pyflink.table import DataTypes
from pyflink.table.udf import FunctionContext, ScalarFunction, udf

from jobs.counters.decode.spec import DECODED_FIELDS, Decoder

VECTORIZED, ROW_AT_A_TIME = "python", "python-row"
VARIANTS = (VECTORIZED, ROW_AT_A_TIME)

_TYPES = {"letter": DataTypes.STRING(), "kind": DataTypes.STRING(), "id_hi": DataTypes.BIGINT(),
          "id_lo": DataTypes.BIGINT(), "room_id": DataTypes.BIGINT(),
          "gift_id": DataTypes.INT(), "likes": DataTypes.BIGINT(),
          "gift_count": DataTypes.BIGINT(), "gift_value": DataTypes.BIGINT(),
          "ts": DataTypes.BIGINT(), "late": DataTypes.INT()}
DECODED_TYPE = DataTypes.ROW([DataTypes.FIELD(n, _TYPES[n]) for n in DECODED_FIELDS])

# a scalar function's row result, expanded: each call is one Python function call
SQL = """
SELECT d.* FROM (
  SELECT decode_events(`value`, `topic`, `kts`, `ts_type`, `key`, `partition`, `offset`) AS d
  FROM raw_events)"""


class _Decode(ScalarFunction):
    def __init__(self, likes_topic: str, gifts_topic: str, watermark_delay_ms: int) -> None:
        # made here and shipped with the function: schemas/ is read on the client (thread
        # mode reads the shipped packages from a zip, where no file can be opened)
        self.decoder = Decoder(likes_topic, gifts_topic, watermark_delay_ms)

    def open(self, function_context: FunctionContext) -> None:
        metrics = function_context.get_metric_group()
        self.events_in = metrics.counter("events_in")
        self.dlq_records = metrics.counter("dlq_records")


class VectorizedDecode(_Decode):
    """A batch of Kafka records as Arrow columns a call."""

    def eval(self, value, topic, kts, ts_type, key, partition, offset):
        import pandas as pd

        from jobs.counters.decode.spec import epoch_ms

        out = self.decoder.decode(
            value.tolist(), topic.tolist(), epoch_ms(kts),
            (ts_type == "LogAppendTime").tolist(), key.tolist(),
            [int(p) for p in partition], [int(o) for o in offset], int(time.time() * 1000))
        self.events_in.inc(len(value))
        self.dlq_records.inc(out.invalid)
        return pd.DataFrame(out.columns())


class RowDecode(_Decode):
    """One Kafka record a call."""

    def eval(self, value, topic, kts, ts_type, key, partition, offset):
        from pyflink.common import Row

        ms = None if kts is None else int(kts.timestamp() * 1000)
        out = self.decoder.decode([value], [topic], [ms], [ts_type == "LogAppendTime"], [key],
                                  [partition], [offset], int(time.time() * 1000))
        self.events_in.inc(1)
        self.dlq_records.inc(out.invalid)
        return Row(*(col[0] for col in out.columns().values()))


def register(variant: str):
    """A ``decoder`` for ``decode/sql.decoded_table``: registers ``decode_events`` as this
    variant and returns the SQL that applies it."""
    def decoder(t_env, s) -> str:
        cls, func_type = ((VectorizedDecode, "pandas") if variant == VECTORIZED
                          else (RowDecode, "general"))
        t_env.create_temporary_function("decode_events", udf(
            cls(s.likes_topic, s.gifts_topic, s.watermark_delay_ms),
            result_type=DECODED_TYPE, func_type=func_type))
        return SQL
    return decoder
