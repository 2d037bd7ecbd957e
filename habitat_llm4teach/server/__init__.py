"""The teacher inference server: protocol, batching scheduler, server process, trainer-side client."""
