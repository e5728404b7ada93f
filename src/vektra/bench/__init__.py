"""Vektra's benchmark suite, run as `vektra bench` (see bench/README.md).

Every figure is measured beside baselines run in the same process run, in
rotating order over several rounds, and reported as a ratio: the machines
this runs on are shared and noisy, so an absolute number means little.

Modules, one job each:

    data        the docstrings embeddings or seeded synthetic data, exact ground truth
    systems     what every system under test offers the workloads
    topologies  Vektra embedded, one node via a router, three nodes rf 2 via a router
    baselines   raw hnswlib, raw LMDB + msgpack, numpy exact search
    peers       Chroma and Qdrant Edge, embedded, when installed
    procstats   RSS and CPU time of the client and every server process
    measure     timings, percentiles, recall
    workloads   the operations measured, one function each
    memory      RSS growth for the same data, each in-process system in a child
    runner      rounds, rotation, medians
    targets     the speed issue's targets as data, evaluated from a run
    floors      what a call costs before any work, and each target's bound above it
    report      JSON, the markdown table, and plots (`plots`)
"""
