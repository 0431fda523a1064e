"""spark-submit entry point; see sparktrack/jobs/batch_score.py and the README's Jobs section."""

import sys

from sparktrack.jobs.batch_score import main

if __name__ == "__main__":
    sys.exit(main())
