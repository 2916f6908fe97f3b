"""The worker's Prometheus endpoint: the Temporal SDK's own metrics (task latencies, slots, polls) and the
product's (activities/metrics.py), all from the runtime's exporter on DUNNING_WORKER_METRICS_ADDRESS
(`WorkerSettings.metrics_address`). Off when the setting is empty, which is the default."""

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime serving /metrics on `bind_address` (host:port); counters end in _total, as Prometheus expects."""
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address, counters_total_suffix=True))
    )


def install_worker_metrics(address: str | None) -> str | None:
    """Make every client of this process report to the exporter, if an address is set; returns it."""
    address = (address or "").strip()
    if address:
        Runtime.set_default(metrics_runtime(address))
    return address or None
