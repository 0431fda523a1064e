"""The UI's server: ``sparktrack ui`` (sparktrack.ui.app) and its JSON API (sparktrack.ui.api)."""
