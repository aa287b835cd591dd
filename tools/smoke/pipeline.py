"""Wiring of the smoke pipeline: Kafka topic -> Python map -> Kafka topic.

The source is bounded (earliest to the latest offsets at start), so the job ends by itself
once it has copied what the topic held; the test compares the output topic with the input.
"""

from __future__ import annotations

from pyflink.common import Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)

from tools.smoke.logic import mark


def build(env: StreamExecutionEnvironment, bootstrap: str, source_topic: str,
          sink_topic: str, group_id: str) -> None:
    source = (KafkaSource.builder()
              .set_bootstrap_servers(bootstrap)
              .set_topics(source_topic)
              .set_group_id(group_id)
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(SimpleStringSchema())
              .build())
    sink = (KafkaSink.builder()
            .set_bootstrap_servers(bootstrap)
            .set_record_serializer(KafkaRecordSerializationSchema.builder()
                                   .set_topic(sink_topic)
                                   .set_value_serialization_schema(SimpleStringSchema())
                                   .build())
            .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
            .build())
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "smoke-source")
        .uid("smoke-source")
        .map(mark, output_type=Types.STRING()).name("mark").uid("smoke-mark")
        .sink_to(sink).name("smoke-sink").uid("smoke-sink"))
