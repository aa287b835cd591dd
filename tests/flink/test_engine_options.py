"""The Flink settings the job sets for itself (``engine_options``) take effect on the job's
environment, over Flink's defaults: no copies between chained operators, and bloom filters in
partitioned index/filter blocks for the dedup's lookups of event ids it has never seen."""

from __future__ import annotations

import pytest

from jobs.counters.engine import engine_options
from jobs.runtime import execution_environment, kafka_connector_jar

pytestmark = pytest.mark.flink


def test_the_job_reuses_rows_and_filters_dedup_misses_whatever_the_cluster_defaults():
    env = execution_environment([kafka_connector_jar()], parallelism=2)
    assert not env.get_config().is_object_reuse_enabled()  # Flink's default: copy every row
    before = dict(env._j_stream_execution_environment.getConfiguration().toMap())
    assert before.get("state.backend.rocksdb.use-bloom-filter", "false") == "false"
    env.configure(engine_options())
    assert env.get_config().is_object_reuse_enabled()
    conf = dict(env._j_stream_execution_environment.getConfiguration().toMap())
    assert conf["state.backend.rocksdb.use-bloom-filter"] == "true"
    assert conf["state.backend.rocksdb.memory.partitioned-index-filters"] == "true"
    assert conf["state.backend.type"] == "rocksdb"  # the state these settings are for
