"""Personal data: erasing one person everywhere the gateway put them, and exporting what it holds
about them (subject access). Audience records are people."""
