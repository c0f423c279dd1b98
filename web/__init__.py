"""Adapter: the web app, staff CATI console, supervisor views, officials' dashboard, concerns workflow."""

from web.app import create_app

__all__ = ["create_app"]
