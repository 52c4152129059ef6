"""The JSON API of the admin (OpenAPI at /api/openapi.json, behind login): what the pages do, for programs."""
