"""Tests of the local Director simulator (directorsync.simulator)."""
