#!/bin/sh
# kafka-run-class.sh of the distribution, reduced to what the chart's scripts use: the main class
# with the broker's default JVM flags, or quick-start flags for the short-lived CLIs.
main=$1; shift
opts=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} $opts $KAFKA_OPTS $KAFKA_LOG4J_OPTS -cp "/opt/kafka/libs/*" "$main" "$@"
