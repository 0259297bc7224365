"""Pulseboard storage: database engines, models, stores and the live bus."""
