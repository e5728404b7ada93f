"""vektra.router"""
