"""vektra.common"""
