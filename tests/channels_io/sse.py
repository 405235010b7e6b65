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
