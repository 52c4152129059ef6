"""The JSON API of the admin (OpenAPI at /api/openapi.json, behind login): what the pages do, for programs."""

from admin.api import auth, dashboard, deadlines, directory, incidents, ratings, reports, root_causes, users

ROUTERS = (
    auth.router,
    incidents.router,
    dashboard.router,
    directory.router,
    deadlines.router,
    deadlines.calendar_router,
    ratings.router,
    reports.router,
    root_causes.router,
    users.router,
)
