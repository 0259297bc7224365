"""Reusable pieces of page layout: cards, charts, the range picker."""
