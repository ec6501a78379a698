"""Tables, figures and markdown from verdicts."""
