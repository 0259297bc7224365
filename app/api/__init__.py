"""Pulseboard's HTTP API: one blueprint, JSON in and out, OpenAPI from the models."""
