"""PyFlink jobs of live-counters. A job's ``main.py`` is its driver (settings -> checks ->
engine -> graph -> execute); its stages are subpackages, its pure logic apart from I/O."""
