FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY loophole ./loophole
COPY tickets ./tickets
COPY assistant ./assistant
COPY channels_io ./channels_io
RUN pip install --no-cache-dir .
COPY . .
RUN useradd --create-home --uid 1000 loophole && mkdir -p /app/staticfiles && chown -R loophole /app/staticfiles
USER loophole
EXPOSE 8000
CMD ["uvicorn", "loophole.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
