"""The operator page: static files and a small stdlib HTTP server (server-sent events for live updates)."""
