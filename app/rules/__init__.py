"""Validation rules: declarative checks that run on a record after the contract accepted it.

Built-in defaults live as data in `contracts/rules/<entity>.json`; each client may add its own
rules per entity (versioned). Rules are compiled once per (client, entity, version).
"""
