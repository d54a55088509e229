#!/bin/bash
# What the driver and executor containers run. Spark's Kubernetes scheduler starts them with the
# image's entrypoint and one argument naming the role: `driver <spark-submit args>` (the driver
# runs spark-submit in client mode inside its pod) or `executor` (everything in SPARK_* variables
# the scheduler sets). Anything else runs as given, e.g. `python -m medley.jobs druid`.
set -euo pipefail

role=${1:-}
case "$role" in
    driver)
        shift
        exec "$SPARK_HOME/bin/spark-submit" \
            --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS" \
            --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS" \
            --deploy-mode client "$@"
        ;;
    executor)
        shift
        # spark.executor.extraJavaOptions and the like arrive as SPARK_JAVA_OPT_0, _1, ... in order
        java_opts=()
        while IFS= read -r -d '' name; do
            java_opts+=("${!name}")
        done < <(compgen -v SPARK_JAVA_OPT_ | sort -t_ -k4 -n | tr '\n' '\0')
        exec java "${java_opts[@]}" \
            -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
            -cp "${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*" \
            org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
            --driver-url "$SPARK_DRIVER_URL" \
            --executor-id "$SPARK_EXECUTOR_ID" \
            --cores "$SPARK_EXECUTOR_CORES" \
            --app-id "$SPARK_APPLICATION_ID" \
            --hostname "$SPARK_EXECUTOR_POD_IP" \
            --resourceProfileId "$SPARK_RESOURCE_PROFILE_ID" \
            --podName "$SPARK_EXECUTOR_POD_NAME" \
            "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
