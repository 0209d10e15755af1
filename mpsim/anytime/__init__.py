"""Anytime prediction on simulated hardware: exit policies, their accuracy and their price."""
