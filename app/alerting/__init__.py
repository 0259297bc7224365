"""Alerting: rules over metrics and logs, their state machine, notifications. A layer of its
own that imports only ``storage`` (and plain helpers), so it runs without the web app."""
