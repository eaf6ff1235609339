"""The domain: plain Python, no transport imports."""
