"""The one piece of python-dateutil the secrets tests use (`parser.parse` of ISO 8601 times)."""
