"""Qt-free services of the app: state and orchestration shared by the CLI and the GUI."""
