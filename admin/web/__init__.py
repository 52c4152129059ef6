"""Server-rendered pages of the admin (Jinja2 templates in admin/templates, files in admin/static)."""
