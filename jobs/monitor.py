"""spark-submit entry point; see sparktrack/jobs/monitor.py and the README's Jobs section."""

import sys

from sparktrack.jobs.monitor import main

if __name__ == "__main__":
    sys.exit(main())
