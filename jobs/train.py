"""spark-submit entry point; see sparktrack/jobs/train.py and the README's Jobs section."""

import sys

from sparktrack.jobs.train import main

if __name__ == "__main__":
    sys.exit(main())
