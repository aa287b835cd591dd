"""What operators watch: the job's signals, by their names in Prometheus.

Flink's Prometheus reporter (enabled in ``flink-conf/config.yaml``) serves every metric of the
JobManager and of each TaskManager on ``http://<host>:<port>/metrics``, the port being the
first free one of ``metrics.reporter.prom.port`` per process. A metric's Prometheus name is
``flink_<scope>_<name>``: the job's own metrics (``jvm/livecounters/DecodeEvents.java``,
``counter_sink.py``) are operator metrics, ``flink_taskmanager_job_task_operator_<name>``, one
series per subtask (label ``subtask_index``); Flink's job metrics are
``flink_jobmanager_job_<name>``.

One table for docs/monitoring.md, the Grafana dashboard and the alert rules
(``deploy/grafana/``, ``deploy/prometheus/``; a unit test holds them to it) and the
terminal view (``scripts/watch``).
"""

from __future__ import annotations

from dataclasses import dataclass

OPERATOR = "flink_taskmanager_job_task_operator_"
JOB = "flink_jobmanager_job_"
TASKMANAGER = "flink_taskmanager_Status_"  # of the process, whichever jobs it runs


@dataclass(frozen=True)
class Signal:
    key: str          # short name (scripts/watch, docs/monitoring.md)
    metric: str       # the Prometheus metric name
    unit: str
    combine: str      # over subtasks: "sum", "max", or "oldest" (an epoch-ms time: the
                      # smallest non-zero one, shown as its age)
    rate: bool        # a running total: watch its rate per second
    meaning: str


SIGNALS: tuple[Signal, ...] = (
    Signal("events_in", OPERATOR + "events_in", "events", "sum", True,
           "Kafka records the decode step read (both topics, valid or not)"),
    Signal("events_in_by_partition",
           OPERATOR + "KafkaSourceReader_topic_partition_currentOffset", "offset", "max", True,
           "the Kafka source's position per topic and partition (labels topic, partition): "
           "its rate is events in per second per topic"),
    Signal("lag", OPERATOR + "pendingRecords", "records", "sum", False,
           "consumer lag: records in Kafka the source has not read yet, per source subtask"),
    Signal("dlq_records", OPERATOR + "dlq_records", "records", "sum", True,
           "invalid or malformed records sent to the dead-letter topic"),
    Signal("duplicates_dropped", OPERATOR + "duplicates_dropped", "events", "sum", True,
           "repeats of an event id already counted (since the sink subtask started)"),
    Signal("late_events", OPERATOR + "late_events", "events", "sum", True,
           "first-seen events more than --watermark-delay-ms behind the newest event time "
           "their decode subtask had read (counted in totals and in their old window)"),
    Signal("events_counted", OPERATOR + "events_counted", "events", "sum", True,
           "events whose counts are confirmed in Cassandra (since the sink subtask started)"),
    Signal("rows_written", OPERATOR + "sink_rows_written", "rows", "sum", True,
           "counter rows written (increments sent)"),
    Signal("rows_read", OPERATOR + "sink_rows_read", "rows", "sum", True,
           "counter rows read back (at start, after doubt)"),
    Signal("ambiguous_writes", OPERATOR + "sink_ambiguous_rows", "rows", "sum", True,
           "rows whose write had an unknown outcome (timeout): re-read, never resent blindly"),
    Signal("decoded_age", OPERATOR + "decoded_age_ms", "ms", "max", False,
           "latency budget, stage 1: how old the newest event was when the decode step "
           "decoded it (Kafka and the source)"),
    Signal("aggregated_age", OPERATOR + "aggregated_age_ms", "ms", "max", False,
           "stage 2: how old the newest event of a truth was when it left the aggregation "
           "and the hold (dedup, the mini-batch flush and, while behind, the hold added)"),
    Signal("sink_arrival_age", OPERATOR + "sink_arrival_age_ms", "ms", "max", False,
           "stage 3: how old the newest event of a truth was when the Python sink received "
           "it (the Python bundle added); persistence_delay is stage 4, the write round"),
    Signal("persistence_delay", OPERATOR + "persistence_delay_ms", "ms", "max", False,
           "how old the newest event of the sink's last confirmed write round was (set as "
           "a round ends: a stuck round shows in sink_unconfirmed_since_ms)"),
    Signal("unconfirmed_since", OPERATOR + "sink_unconfirmed_since_ms", "epoch ms", "oldest",
           False, "when the oldest truth the sink holds and has not confirmed in Cassandra "
           "reached it (wall clock; 0: none): now minus it is how long a write has waited, "
           "and grows at every scrape while a write round is stuck"),
    Signal("truths_held", OPERATOR + "truths_held", "rows", "sum", False,
           "counter rows whose newest truth waits in the hold in front of the sink: non-zero "
           "only while the job is behind (a backlog), which it writes in rounds"),
    Signal("direct_memory_used", TASKMANAGER + "JVM_Memory_Direct_MemoryUsed", "bytes", "max",
           False, "direct memory a TaskManager's JVM uses (label tm_id; mostly network "
           "buffers, and the buffers the Python operators hand their workers)"),
    Signal("direct_memory_max", OPERATOR + "direct_memory_max_bytes", "bytes", "max", False,
           "the limit of that JVM's direct memory (-XX:MaxDirectMemorySize, which Flink sets "
           "from its memory options), reported by the decode step on each TaskManager it "
           "runs on: past it, \"OutOfMemoryError: Direct buffer memory\" fails the task"),
    Signal("checkpoint_duration", JOB + "lastCheckpointDuration", "ms", "max", False,
           "duration of the last completed checkpoint"),
    Signal("checkpoint_size", JOB + "lastCheckpointSize", "bytes", "max", False,
           "size of the last completed checkpoint"),
    Signal("restarts", JOB + "numRestarts", "restarts", "max", False,
           "how often the job restarted since it was submitted"),
    Signal("failed_checkpoints", JOB + "numberOfFailedCheckpoints", "checkpoints", "max",
           False, "checkpoints that failed (declined, timed out, or not written) since the "
           "job was submitted: more than execution.checkpointing.tolerable-failed-checkpoints "
           "in a row restart the job"),
    Signal("running_time", JOB + "runningTime", "ms", "max", False,
           "how long the job has been RUNNING since it last started; 0 while it is not "
           "(restarting, failing); no series once it has ended"),
    Signal("last_checkpoint", JOB + "lastCheckpointCompletedTimestamp", "epoch ms", "max",
           False, "when the last checkpoint completed (-1 before the first): checkpoints "
           "that stop completing mean a stuck sink (it waits for its writes at each barrier)"),
)

BY_KEY = {s.key: s for s in SIGNALS}
