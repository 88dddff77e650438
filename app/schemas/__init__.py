"""API schemas: what the service reads and answers, documented for /docs."""
