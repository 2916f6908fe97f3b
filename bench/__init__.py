"""Throughput benchmarks (`make bench`): the product's ingress paths against the raw Temporal ceiling.

Every figure is a ratio to a trivial workflow started and signalled by the SDK at the same concurrency
on the same dev server in the same run, so it says what the product costs on top of Temporal whatever
the machine. Nothing here is asserted in tests.
"""
