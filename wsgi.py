"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
from rating import create_app

app = create_app()
