FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app
WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY loophole ./loophole
COPY tickets ./tickets
COPY assistant ./assistant
COPY channels_io ./channels_io
RUN pip install --no-cache-dir .
# The source tree (templates, static, help articles, manage.py); PYTHONPATH=/app makes uvicorn, celery and
# manage.py all import this copy, templates included.
COPY . .
RUN useradd --create-home --uid 1000 loophole \
    && mkdir -p /app/staticfiles /app/sms-messages \
    && chown -R loophole /app/staticfiles /app/sms-messages
USER loophole
EXPOSE 8000
CMD ["uvicorn", "loophole.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
