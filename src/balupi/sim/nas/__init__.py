"""A BaluHost-compatible NAS emulator, faithful to the contract in ``docs/compat/nas-api.md``.

It serves the API subset BaluApp and BaluDesk use, with the NAS's shapes, status codes and quirks,
and it has a power model: it sleeps (its API socket closed), wakes on a Wake-on-LAN magic packet
and reports its power draw for the plug emulator.
"""
