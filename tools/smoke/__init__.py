"""The smoke pipeline: proves Kafka -> PyFlink -> Kafka works through the connector jar."""
