"""Server-rendered pages of the admin (Jinja2 templates in admin/templates, files in admin/static)."""

from admin.web import dashboard, deadlines, directory, incidents, pages, ratings, root_causes, users

ROUTERS = (
    pages.router,
    incidents.router,
    dashboard.router,
    directory.router,
    deadlines.router,
    ratings.router,
    root_causes.router,
    users.router,
)
