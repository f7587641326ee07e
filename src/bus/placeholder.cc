// Intentionally empty until this module has sources; keeps the static library non-empty.
