"""Quarantine: records that failed mapping, the contract or a rule, held until fixed, replayed
or discarded. Never silently dropped."""
