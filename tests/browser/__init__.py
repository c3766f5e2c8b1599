"""End-to-end tests of the browser chart: headless Chromium against a real worker."""
