"""live-counters' producer library: publish like and gift events for the counting job.

    from live_counters_producer import CounterProducer

The modules are those of the job's repository (``connectors/``, ``schemas/``), installed
under this one name: docs/app-developers.md.
"""

from .avro_codec import SchemaRegistry
from .events import GIFT, LIKE, validate
from .kafka_config import KafkaConfig
from .producer import (
    CounterProducer,
    Delivery,
    Encoded,
    FailedEvent,
    ProduceError,
    encode_gift,
    encode_like,
)

__all__ = ["CounterProducer", "Delivery", "Encoded", "FailedEvent", "GIFT", "KafkaConfig", "LIKE",
           "ProduceError", "SchemaRegistry", "encode_gift", "encode_like", "validate"]
