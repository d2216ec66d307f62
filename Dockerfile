# One image for all three services; docker-compose.yml picks the service with `command`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group app

WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .

USER app
EXPOSE 8000
