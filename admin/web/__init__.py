"""Server-rendered pages of the admin (Jinja2 templates in admin/templates, files in admin/static)."""

from admin.web import dashboard, deadlines, directory, incidents, pages, ratings, users

ROUTERS = (
    pages.router,
    incidents.router,
    dashboard.router,
    directory.router,
    deadlines.router,
    ratings.router,
    users.router,
)
