"""spark-submit entry point; see sparktrack/jobs/maintenance.py and the README's Jobs section."""

import sys

from sparktrack.jobs.maintenance import main

if __name__ == "__main__":
    sys.exit(main())
