"""One reader per on-disk layout, and the detector that picks one."""
