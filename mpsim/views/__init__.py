"""Views of mpsim's results: tables (terminal, CSV, JSON), the self-contained HTML page and its
SVG pieces. Every view reads the plain dicts the core returns (a report, a sweep's rows, an
anytime sweep); none changes a figure."""
