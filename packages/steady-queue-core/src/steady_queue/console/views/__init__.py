"""The console's pages, one module per page, and the actions each posts to."""
