"""The demo: a generated day of portal traffic run through the whole pipeline."""
