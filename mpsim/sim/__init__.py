"""Engines that stream frames through a mapped graph, and their reports."""
