FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app
WORKDIR /app

# The locked dependencies first (uv.lock: exact versions with hashes, no extras), so a code change
# does not reinstall them. uv only turns the lock into a requirements file for pip.
COPY pyproject.toml uv.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv export --quiet --frozen --no-emit-project -o /tmp/requirements.txt \
    && pip uninstall --yes uv \
    && pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself. The source tree stays in /app (templates, static files, help articles and
# manage.py live beside the packages); PYTHONPATH=/app makes uvicorn, celery and manage.py import this copy.
COPY . .
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build *.egg-info \
    && useradd --create-home --uid 1000 loophole \
    && mkdir -p /app/staticfiles /app/sms-messages \
    && chown loophole /app/staticfiles /app/sms-messages

USER loophole
EXPOSE 8000
# --no-proxy-headers: the app reads X-Forwarded-For itself, from TRUSTED_PROXIES only.
CMD ["uvicorn", "loophole.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers"]
