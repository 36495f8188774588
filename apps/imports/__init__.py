"""CSV imports run as background jobs: members and sales files, with progress and a per-row
error report."""
