"""Training, evaluating and applying attributors (which source made this image?)."""
