"""The ``linfen`` command: one entry point that dispatches to the kiosk, simulator, central and demo."""
