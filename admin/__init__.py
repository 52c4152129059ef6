"""The admin web backend: JSON API now, pages later; platform webhooks are mounted here by the composition root."""
