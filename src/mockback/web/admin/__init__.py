"""The admin API (FastAPI): routers per noun, built by ``app.build_admin_app``."""
