"""The ASGI entry point that gunicorn and uvicorn load: `asgi:app`."""

from app.main import create_app

app = create_app()
