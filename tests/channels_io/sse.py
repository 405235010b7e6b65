"""Reading a live widget's server-sent events in tests."""

import asyncio
import json
import time


async def events(response, count: int, timeout: float = 5.0) -> list[tuple[str, dict, str]]:
    """Read `count` events (name, data, id) from an SSE response, skipping comments."""
    found: list[tuple[str, dict, str]] = []
    buffer = ""
    stream = response.streaming_content.__aiter__()
    deadline = time.monotonic() + timeout
    while len(found) < count:
        chunk = await asyncio.wait_for(stream.__anext__(), max(0.01, deadline - time.monotonic()))
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(
                line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
            )
            if "event" in fields:
                found.append((fields["event"], json.loads(fields["data"]), fields.get("id", "")))
    return found


async def rest(response, timeout: float = 5.0) -> str:
    """Everything the stream sends until it closes (fails if it is still open after `timeout`)."""
    text = ""
    stream = response.streaming_content.__aiter__()
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.01, deadline - time.monotonic()))
        except StopAsyncIteration:
            return text
        except TimeoutError:
            raise AssertionError(f"the stream is still open after {timeout}s; it sent {text!r}") from None
        text += chunk.decode() if isinstance(chunk, bytes) else chunk


def event_names(text: str) -> list[str]:
    return [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]
