"""Core value types, the clock port and the exception tree. Imports nothing from outer layers."""
