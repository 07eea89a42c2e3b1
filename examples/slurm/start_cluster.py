"""Start a Dask cluster of SLURM jobs for modcore sweeps; keep it up until Ctrl-C.

Everything about the jobs comes from ``jobqueue.yaml`` beside this file, read by dask-jobqueue's
``SLURMCluster`` (``export DASK_CONFIG=<this folder>`` first); SLURM does the scheduling. The
scheduler address is printed and written to ``--address-file`` for ``python -m modcore run ...
--executor dask --scheduler ADDRESS``. See README.md here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dask_jobqueue import SLURMCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="SLURM jobs (= GPUs = workers), default 4")
    parser.add_argument("--adapt", action="store_true",
                        help="scale between 0 and --jobs jobs with the queued work, instead of holding --jobs")
    parser.add_argument("--address-file", type=Path, default=Path("scheduler-address.txt"))
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")

    cluster = SLURMCluster()
    if args.adapt:
        cluster.adapt(minimum_jobs=0, maximum_jobs=args.jobs)
    else:
        cluster.scale(jobs=args.jobs)
    args.address_file.write_text(cluster.scheduler_address + "\n")
    print(cluster.job_script())
    print(f"scheduler at {cluster.scheduler_address} (written to {args.address_file}); "
          f"{'up to ' if args.adapt else ''}{args.jobs} jobs; Ctrl-C cancels them all")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.close()


if __name__ == "__main__":
    main()
