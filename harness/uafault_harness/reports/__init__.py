"""What reads the store: the HTML report, the exports, the detection matrix."""
