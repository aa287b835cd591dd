"""What only this repository runs, never shipped with the job: the benchmark suite
(``bench/``), the fault harness (``faults/``), the workload generator and its oracle
(``workload.py``), the verifier (``verify.py``), the demo (``demo.py``) and a smoke job for
checking a Flink cluster (``smoke/``). Imports run one way: tools -> local_stack -> jobs ->
connectors."""
