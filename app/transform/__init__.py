"""Transformation: platform-native records → standard schema v1 (mapping rules + normalisers).

Pure building blocks: nothing here touches the database, the queue or the network.
"""
