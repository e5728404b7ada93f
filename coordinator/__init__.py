"""vektra.coordinator"""
