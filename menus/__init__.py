"""The menu engine: menus.yaml schema, loader, linter, FSM, renderer, action registry."""
