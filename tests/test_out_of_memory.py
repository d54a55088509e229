"""A step that kills the Spark JVM with an OutOfMemoryError ends in one line naming the fix and
exit code 10, instead of a lost py4j connection after pages of Java stack traces."""

from __future__ import annotations

import subprocess
import sys

from instance import instance_env
from medley import REPO_ROOT
from medley.errors import ExitCode

# A real local Spark with a 512 MB heap asked to build one 1 GB string.
STEP = """
import sys
from pyspark.sql import functions as F
from medley import config
from medley.errors import MedleyError
from medley.hops import RunReport, Step
from medley.spark import session

cfg = config.load()
spark = session(cfg, "medley-oom-test")
try:
    with Step(cfg, RunReport(run_id="oom"), "gold"):
        # computed in a task (not folded by the planner), so Spark exits the JVM as it would mid-job
        spark.range(1).select(F.expr("repeat('x', cast(id + 1000000000 as int))").alias("s")).collect()
except MedleyError as err:
    print(f"error: {err}")
    sys.exit(int(err.exit_code))
"""


def test_spark_out_of_memory_is_one_line_naming_the_fix():
    env = {**instance_env(), "MEDLEY_NO_VENV": "1", "MEDLEY_SPARK__DRIVER_MEMORY": "512m"}
    proc = subprocess.run([sys.executable, "-c", STEP], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == ExitCode.OUT_OF_MEMORY, proc.stdout[-2000:] + proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("error: "))
    assert "gold: Spark ran out of memory" in line and "spark.driver_memory 512m" in line
    assert "MEDLEY_SPARK__DRIVER_MEMORY" in line
