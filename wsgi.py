"""WSGI entry point for gunicorn: ``gunicorn --threads 32 wsgi:server``."""

from app import create_app

server = create_app().server
