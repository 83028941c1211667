"""Authentication: passwords, tokens, sessions, user access and login throttling."""
