"""The local stack's profiles agree with themselves and with the job's settings."""

from __future__ import annotations

from itertools import pairwise

from jobs.counters.settings import Settings
from local_stack import stack
from local_stack.cassandra import LOCAL, RING, SECURE
from local_stack.kafka import REPLICATED as BROKERS
from local_stack.kafka import SINGLE as BROKER
from local_stack.profiles import PROFILES, REPLICATED, SINGLE


def test_replicated_brokers_form_one_quorum_on_ports_of_their_own():
    assert [b.node_id for b in BROKERS] == [1, 2, 3]
    assert {b.voters for b in BROKERS} == {tuple((b.node_id, b.controller_port) for b in BROKERS)}
    assert {b.cluster for b in BROKERS} == {"kafka-replicated"}
    ports = [p for b in (BROKER, *BROKERS) for p in (b.port, b.controller_port, b.secure_port)]
    assert len(ports) == len(set(ports))
    # one broker may be lost: acks=all still finds min.insync.replicas in-sync replicas
    assert all(b.replication == 3 and b.min_isr == 2 for b in BROKERS)
    assert REPLICATED.bootstrap == ",".join(f"127.0.0.1:{b.port}" for b in BROKERS)


def test_the_ring_is_three_seeds_with_evenly_spaced_tokens_beside_the_other_nodes():
    assert [n.address for n in RING] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert {n.seed_list for n in RING} == {"127.0.0.1:7010,127.0.0.2:7010,127.0.0.3:7010"}
    assert {n.cluster_name for n in RING} == {"live-counters-ring"}
    tokens = [n.initial_token for n in RING]
    assert tokens[0] == -2**63 and all(b - a == 2**64 // 3 for a, b in pairwise(tokens))
    # beside the single node and the secured one on the same host: no port of theirs reused
    # on 127.0.0.1, and each node's JMX port (always on 127.0.0.1) its own
    on_first = {(n.native_port, n.storage_port) for n in (LOCAL, SECURE)}
    assert not on_first & {(RING[0].native_port, RING[0].storage_port)}
    jmx = [n.jmx_port for n in (LOCAL, SECURE, *RING)]
    assert len(jmx) == len(set(jmx))
    assert LOCAL.seed_list == "127.0.0.1:7000" and LOCAL.initial_token is None


def test_profiles_name_services_the_stack_has_and_settings_the_job_takes():
    for profile in PROFILES.values():
        assert set(profile.services) <= set(stack.ORDER)
        for group in (profile.brokers, profile.cassandra_nodes, profile.taskmanagers):
            assert set(group) <= set(profile.services)
        s = Settings.parse(profile.job_args())
        assert s.bootstrap == profile.bootstrap
        assert s.cassandra_hosts == profile.cassandra_hosts
        assert s.cassandra_port == profile.cassandra_port
        # the keyspace's replicas: one per Cassandra node, as many as the topics have
        assert s.replication_map["replication_factor"] == str(len(profile.cassandra_nodes))
        assert profile.replication_factor == len(profile.brokers)
    assert REPLICATED.provision_args() == ["--replication-factor", "3",
                                           "--min-insync-replicas", "2"]
    assert SINGLE.provision_args() == ["--replication-factor", "1"]
    assert REPLICATED.taskmanagers == ("flink", "taskmanager-2")


def test_the_replicated_profile_is_started_only_by_name():
    assert not set(REPLICATED.services) - {"flink"} & set(stack.ALL)
    assert set(REPLICATED.services) - {"flink"} <= set(stack.OPTIONAL)
