"""Real protocol peers for boundaries the tests cannot reach (a fake Alpaca server)."""
