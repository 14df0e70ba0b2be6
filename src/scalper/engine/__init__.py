"""The event loop side of the system: feeding live events to the pure engines and storing what they produce."""
