"""Metrics in one place (Avalanche's ``evaluation/metrics/``): statistics over seeds
(:mod:`.stats`), rank correlation (:mod:`.ranking`), group robustness (:mod:`.groups`) and
long-tailed shot groups (:mod:`.longtail`). Tasks record them; reports summarise with them."""
