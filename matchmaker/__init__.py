"""The collector (the store of ads) and the negotiator (matchmaking, fair share, accountant)."""
