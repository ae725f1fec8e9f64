"""Bounces (SPEC 4.2): reading what mail servers send back, and what it means."""
