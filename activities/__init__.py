"""Side effects of a case: one package per channel, each behind the same idempotent delivery flow."""
