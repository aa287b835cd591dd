"""The Kafka tables of the job's SQL: the client properties of --kafka-config reach both the
source and the dead-letter sink, and without it nothing is added."""

from __future__ import annotations

from jobs.counters.decode.sql import dead_letters_ddl, source_ddl
from jobs.counters.settings import Settings


def test_without_a_kafka_config_the_tables_carry_no_client_properties():
    s = Settings.parse([])
    for ddl in (source_ddl(s), dead_letters_ddl(s)):
        assert "security.protocol" not in ddl and "sasl" not in ddl


def test_every_client_property_reaches_the_source_and_the_dead_letter_sink(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n"
                    "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                    "required username=\"u\" password=\"it's\";\n")
    s = Settings.parse(["--kafka-config", str(path)])
    for ddl in (source_ddl(s), dead_letters_ddl(s)):
        assert "'properties.security.protocol' = 'SASL_SSL'" in ddl
        assert "'properties.sasl.mechanism' = 'PLAIN'" in ddl
        assert "password=\"it''s\";'" in ddl  # quoted as SQL
        assert ddl.rstrip().endswith(")")


def test_only_a_bounded_source_ends_at_the_latest_offsets_of_its_start():
    s = Settings.parse([])
    assert "scan.bounded.mode" not in source_ddl(s)  # the counting job's source never ends
    bounded = source_ddl(s, bounded=True)
    assert "'scan.bounded.mode' = 'latest-offset'" in bounded
    assert bounded.replace(",\n  'scan.bounded.mode' = 'latest-offset'", "") == source_ddl(s)
