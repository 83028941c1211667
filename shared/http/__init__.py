"""What both HTTP APIs share: the error shape, authentication, event representations.

Unlike the rest of `shared`, this package may import FastAPI.
"""
