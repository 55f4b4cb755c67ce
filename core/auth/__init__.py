"""Sign-in rules: roles, password hashes, throttling of failed sign-ins, and tokens.

Everything here is pure or works on a caller's repository; who the actor is and the
role checks live in :mod:`app.services.auth`.
"""
