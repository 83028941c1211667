"""Authentication: passwords, tokens and login throttling."""
