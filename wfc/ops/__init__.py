"""Operating a project from the outside: history, lineage views, why, export, cache care, doctor,
run-time settings. Read-mostly library functions the CLI adapts; nothing here runs a step."""
