"""twistd plugins: command-line options and service construction."""
