"""Tables, figures, claims and the paper-vs-measured views, and the HTML pages."""
