"""Signing the console in and out (SPEC 8, 8.1): with a token, or through the
portal's OpenID provider; the session itself is auth/sessions.py's."""
