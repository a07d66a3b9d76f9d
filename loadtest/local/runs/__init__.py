"""A local run's life, owned by one session (session.py), and the runs built on it: `make up` (up.py), the
scale demo, the capacity search, the drills, the smoke run and the benchmarks, with their plumbing."""
