"""PyFlink jobs of live-counters. Each job: ``logic.py`` (pure), ``pipeline.py`` (wiring),
``main.py`` (settings -> environment -> build -> execute)."""
