"""The simulated home: a BaluHost-compatible NAS, Tapo plugs and a Wake-on-LAN path, on loopback."""
