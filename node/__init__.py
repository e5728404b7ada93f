"""vektra.node"""
